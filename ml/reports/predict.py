"""The registered model's answers on labelled CSV rows, from the container's own code.

The artifact is loaded by ``byoc.artifact.load`` (its checks, its predictor) in a child process
with ``PYTHONPATH`` at ``ml/container``, exactly as the local process runtime runs ``serve``: the
report scores what serving would answer, and ``ml`` never imports the container's package.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ml.errors import JobFailedError, UserInputError

CONTAINER_CODE = Path(__file__).resolve().parents[1] / "container"

# argv: model dir, CSV of labelled rows (label first). Prints one prediction per row.
_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from byoc import artifact
model = artifact.load(Path(sys.argv[1]))
rows = np.loadtxt(sys.argv[2], delimiter=",", usecols=range(1, model.n_features + 1), ndmin=2)
for value in model.predictor.predict(rows):
    print(value)
"""


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    data: str  # where the labelled rows came from
    labels: tuple[str, ...]
    predictions: tuple[str, ...]


def _label(text: str) -> str:
    # byoc reads whole-number labels as integers, so "1.0" in the file is predicted as "1".
    try:
        number = float(text)
    except ValueError:
        return text.strip()
    return str(int(number)) if number.is_integer() else str(number)


def read_labels(data: Path) -> tuple[str, ...]:
    if not data.is_file():
        raise UserInputError(f"evaluation data {data} not found; pass the training CSV, or write the sample with `invoke data`")
    with data.open(newline="", encoding="utf-8") as handle:
        return tuple(_label(row[0]) for row in csv.reader(handle) if row)


def evaluate(*, model_dir: Path, data: Path, code: Path = CONTAINER_CODE) -> Evaluation:
    """Predict every row of ``data`` (label, features...) with the artifact extracted in ``model_dir``."""
    labels = read_labels(data)
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(model_dir), str(data)], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise JobFailedError(f"the model in {model_dir} could not predict {data}: {detail[0]}")
    return Evaluation(data=str(data), labels=labels, predictions=tuple(done.stdout.splitlines()))
