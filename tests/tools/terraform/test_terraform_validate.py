"""The three synthesized stacks pass `terraform validate` with the real hashicorp/aws provider.

An oracle this project did not write: the provider's own schema (5.100.0, shipped with the machine
image; the stacks pin 6.69.1). The few 6.x-only settings are rewritten in the validation copy from
one explicit list, pinned here so that it cannot grow without this test changing too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.terraform.validation import DROP, REWRITES, find_plugin_dir, missing_tools, problems, rewrite, validate


def test_the_rewrite_list_is_exactly_the_known_6x_only_settings() -> None:
    assert [(r.resource, r.attribute, r.old, r.new) for r in REWRITES] == [
        ("aws_ecr_repository", "image_tag_mutability_exclusion_filter", DROP, DROP),
        ("aws_ecr_repository", "image_tag_mutability", "IMMUTABLE_WITH_EXCLUSION", "IMMUTABLE"),
    ]
    assert all(r.why for r in REWRITES)


def test_the_rewrite_changes_only_what_the_list_names(stacks: dict[str, Any]) -> None:
    build = stacks["BuildPipelineStack"]
    rewritten = rewrite(build)
    (before,) = build["resource"]["aws_ecr_repository"].values()
    (after,) = rewritten["resource"]["aws_ecr_repository"].values()
    assert before["image_tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"  # the input is untouched
    assert after["image_tag_mutability"] == "IMMUTABLE" and "image_tag_mutability_exclusion_filter" not in after
    assert {k: v for k, v in after.items() if k not in ("image_tag_mutability",)} == {
        k: v for k, v in before.items() if k not in ("image_tag_mutability", "image_tag_mutability_exclusion_filter")
    }
    assert rewritten["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"
    for name, stack in stacks.items():
        if name != "BuildPipelineStack":
            changed = rewrite(stack)
            changed["terraform"]["required_providers"]["aws"]["version"] = stack["terraform"]["required_providers"]["aws"]["version"]
            assert changed == stack, f"{name}: a rewrite touched a stack it should not"


@pytest.mark.slow
@pytest.mark.skipif(missing_tools() is not None, reason=f"terraform validation: {missing_tools()}")
@pytest.mark.parametrize("which", ["default", "alternative"])
def test_terraform_validate_passes_with_the_real_provider(
    which: str, stacks: dict[str, Any], alt_stacks: dict[str, Any], tmp_path: Path
) -> None:
    plugin_dir = find_plugin_dir()
    assert plugin_dir is not None
    verdict = validate(stacks if which == "default" else alt_stacks, workdir=tmp_path, plugin_dir=plugin_dir)
    assert verdict["valid"] is True, "\n".join(problems(verdict))
    assert verdict["error_count"] == 0
    # Warnings are allowed only for deprecations the provider announces for 6.x and that 6.69.1 needs.
    assert problems(verdict, keep=lambda d: d.get("severity") == "warning") == []
