"""Save ``byoc.train``'s tree with ``mlflow.sklearn``; run by the bench inside MLflow's throwaway environment.

Usage: ``python peers_mlflow_save.py MODEL_SKOPS OUTPUT_DIR TRUSTED_TYPE...``. The estimator is
loaded from the skops file (its types trusted by name) and saved as an MLflow model, so MLflow's
scoring server serves the very tree ``serve`` serves. MLflow 3 stores it with skops too and must
be told the same trusted types to load it again.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import mlflow.sklearn  # type: ignore[import-not-found]  # only in the peer's throwaway environment
import skops.io


def main(argv: list[str]) -> int:
    model_file, output, trusted = argv[0], Path(argv[1]), argv[2:]
    model = skops.io.load(model_file, trusted=trusted)
    shutil.rmtree(output, ignore_errors=True)
    mlflow.sklearn.save_model(model, str(output), serialization_format="skops", skops_trusted_types=trusted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
