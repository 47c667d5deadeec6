"""main.py: importing it builds nothing, and bad configuration fails before any construct."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_import_builds_nothing(tmp_path: Path) -> None:
    # A fresh interpreter: in this one another test may have imported main (or cdktf) already,
    # and "importing builds nothing" would then pass whatever main did at import.
    probe = "import main; print(main.build_app.__name__)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "build_app"
    assert list(tmp_path.iterdir()) == []  # no cdktf.out, nothing at all


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"deploy_approval_required": True, "deploy_approval_email": ""}, "deploy_approval_email"),
        ({"region": "mars-north-9x"}, "region"),
        ({"state_backend": "s3", "state_bucket": "Not_A_Bucket"}, "state_bucket"),
        ({"state_backend": "s3", "state_bucket": ""}, "state_bucket"),
        ({"log_retention_days": 17}, "log_retention_days"),
    ],
)
def test_bad_configuration_fails_synthesis_naming_the_key(
    overrides: dict[str, object], key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import main

    # The cdktf CLI passes the context this way; main.synth reads it through load_config.
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", json.dumps(overrides))
    with pytest.raises(ConfigError, match=key) as caught:
        main.synth(outdir=str(tmp_path / "out"))
    assert caught.value.key == key
    assert not (tmp_path / "out").exists()
