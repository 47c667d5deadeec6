"""One cdktf synthesis per test session, shared by every test that reads the stacks.

Importing the AWS provider starts Node and costs about 20 s and 1.6 GB, so the stacks are
synthesized once (default configuration) plus once for the alternative branches (S3 state,
GitHub through CodeConnections, notification emails, no approval), and the JSON is shared.
The fixtures live in the root conftest so that tests/modules and tests/tools/awscheck see the
same session fixtures (a plugin module cannot be named: site-packages has a ``tests`` package).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from ml.names import STACKS

ROOT = Path(__file__).resolve().parent
ALTERNATIVE = {
    "state_backend": "s3",
    "state_bucket": "team-terraform-state",
    "source_provider": "codeconnections",
    "codeconnections_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abcd-1234",
    "github_owner": "example-org",
    "build_notifications_email": "build@example.com",
    "train_notifications_email": "train@example.com",
    "deploy_notifications_email": "deploy@example.com",
    "deploy_approval_required": False,
    "deploy_approval_email": "",
    "region": "eu-west-1",
}

# cdktf.json has no approver (the stacks refuse to synthesize without one while approval is on).
TEST_APPROVER = {"deploy_approval_email": "approver@example.org"}

Synth = dict[str, dict[str, Any]]


def _synthesize(outdir: Path, overrides: dict[str, Any]) -> Synth:
    from main import synth  # imported here: the provider import is the expensive part

    synth(config=load_config(ROOT / "cdktf.json", overrides=overrides), outdir=str(outdir))
    return {name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8")) for name in STACKS}


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default configuration's ``cdktf.out`` (``<dir>/stacks/<Stack>/cdk.tf.json``)."""
    outdir = tmp_path_factory.mktemp("cdktf.out")
    _synthesize(outdir, TEST_APPROVER)
    return outdir


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> Synth:
    """Each stack's synthesized Terraform JSON, by stack name (default configuration)."""
    return {name: json.loads((synth_dir / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8")) for name in STACKS}


@pytest.fixture(scope="session")
def alternative() -> dict[str, Any]:
    """The configuration overrides behind :func:`alt_stacks`."""
    return dict(ALTERNATIVE)


@pytest.fixture(scope="session")
def alt_stacks(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stacks with S3 state, GitHub sources, notifications on and approval off."""
    return _synthesize(tmp_path_factory.mktemp("cdktf.alt"), ALTERNATIVE)
