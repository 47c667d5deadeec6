"""The buildspec runner keeps CodeBuild's 0.2 semantics: one shell, ordered phases, stop at the first failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.rehearsal.buildspec import BuildspecError, parse_buildspec, run_build

ROOT = Path(__file__).resolve().parents[3]
ENV = {"PATH": "/usr/bin:/bin"}


def spec(phases: str, env: str = "") -> str:
    return f"version: 0.2\n{env}phases:\n{phases}"


def test_our_buildspecs_parse() -> None:
    for name in ("build", "train", "deploy"):
        parsed = parse_buildspec((ROOT / "buildspecs" / f"{name}.yml").read_text(), origin=name)
        assert parsed.commands["install"][0].startswith("pipenv sync --categories ")
        assert parsed.runtime_versions == {"python": "3.11"}
    deploy = parse_buildspec((ROOT / "buildspecs" / "deploy.yml").read_text(), origin="deploy")
    assert deploy.variables == {"DEPLOY_MODE": "endpoint"}


def test_cd_and_export_carry_over_between_commands_and_phases(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    text = spec(
        '  install:\n    commands:\n      - cd sub\n      - export X=1\n  build:\n    commands:\n      - echo "$X $(basename $PWD)"\n'
    )
    result = run_build(parse_buildspec(text, origin="t"), cwd=tmp_path, environ=ENV)
    assert result.succeeded
    assert "1 sub" in result.output


def test_the_first_failing_command_fails_its_phase_and_nothing_after_it_runs(tmp_path: Path) -> None:
    text = spec(
        "  install:\n    commands:\n      - echo one\n  pre_build:\n    commands:\n      - exit 7\n      - echo never\n"
        "  build:\n    commands:\n      - echo never-either\n"
    )
    result = run_build(parse_buildspec(text, origin="t"), cwd=tmp_path, environ=ENV)
    assert not result.succeeded
    statuses = {p.phase: p.status for p in result.phases}
    assert statuses == {"install": "SUCCEEDED", "pre_build": "FAILED", "build": "NOT_RUN"}
    assert result.failure is not None and result.failure.failed_command == "exit 7" and result.failure.exit_code == 7
    assert "never" not in result.output


def test_a_failing_command_that_does_not_exit_the_shell_still_stops_the_build(tmp_path: Path) -> None:
    text = spec('  build:\n    commands:\n      - "false"\n      - echo never\n  post_build:\n    commands:\n      - echo nor-this\n')
    result = run_build(parse_buildspec(text, origin="t"), cwd=tmp_path, environ=ENV)
    assert [(p.phase, p.status) for p in result.phases] == [("build", "FAILED"), ("post_build", "NOT_RUN")]
    assert result.failure is not None and result.failure.exit_code == 1
    assert "never" not in result.output and "nor-this" not in result.output


def test_the_environment_is_exactly_the_one_given(tmp_path: Path) -> None:
    text = spec(
        '  build:\n    commands:\n      - echo "[$DEPLOY_MODE][${HOME:-unset}]"\n', env="env:\n  variables:\n    DEPLOY_MODE: endpoint\n"
    )
    parsed = parse_buildspec(text, origin="t")
    result = run_build(parsed, cwd=tmp_path, environ={**ENV, "DEPLOY_MODE": "transform"})
    assert "[transform][unset]" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 0.1\nphases: {}\n", "version 0.2"),
        (spec("  build:\n    on-failure: CONTINUE\n    commands: [true]\n"), "on-failure"),
        (spec("  build:\n    commands: [true]\n    finally: [true]\n"), "finally"),
        (spec("  deploy:\n    commands: [true]\n"), "unknown phase"),
        ("version: 0.2\nartifacts:\n  files: ['**/*']\nphases: {}\n", "artifacts"),
        (spec("  build:\n    commands: [true]\n", env="env:\n  secrets-manager:\n    X: y\n"), "secrets-manager"),
    ],
)
def test_what_the_rehearsal_does_not_model_is_refused(text: str, message: str) -> None:
    with pytest.raises(BuildspecError, match=message):
        parse_buildspec(text, origin="t")
