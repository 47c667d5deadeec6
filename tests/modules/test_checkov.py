"""checkov finds nothing on the synthesized Terraform JSON; every skip is in .checkov.yaml."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.synth
ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / "tools" / "checkov" / ".venv" / "bin" / "checkov"


@pytest.mark.skipif(
    not CHECKOV.exists(),
    reason="checkov's own environment is missing: cd tools/checkov && PIPENV_VENV_IN_PROJECT=1 PIPENV_PIPFILE=$PWD/Pipfile pipenv sync",
)
def test_checkov_has_no_failed_checks(synth_dir: Path) -> None:
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(ROOT / ".checkov.yaml"), "-d", str(synth_dir / "stacks"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(synth_dir), "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [(f["check_id"], f["resource"]) for r in reports for f in r["results"]["failed_checks"]]
    summary = reports[0]["summary"]
    assert summary["passed"] > 100
    assert summary["parsing_errors"] == 0
    assert failed == [], result.stdout[-4000:]
