"""The README's parameter table and task list stay in step with cdktf.json and tasks.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import tasks

ROOT = Path(__file__).resolve().parents[1]


def test_parameter_table_lists_every_key_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    context = json.loads((ROOT / "cdktf.json").read_text())["context"]
    table = dict(re.findall(r"^\| `([a-z_0-9]+)` \| `(.*?)` \|", readme, flags=re.MULTILINE))
    assert set(table) == set(context)
    for key, default in context.items():
        assert json.loads(table[key]) == default, f"README default of {key} differs from cdktf.json"


def test_every_task_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    # bench.run is the bench collection's default task: users type `invoke bench --target NAME`.
    for name in (n if n != "bench.run" else "bench --target" for n in tasks.ns.task_names):
        assert f"invoke {name}" in readme, f"README does not document invoke {name}"
