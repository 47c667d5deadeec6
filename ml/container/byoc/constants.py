"""Names and defaults of the environment variables the container reads; one place for all of them."""

from __future__ import annotations

BASE_DIR = "SAGEMAKER_BASE_DIR"
BIND_TO_PORT = "SAGEMAKER_BIND_TO_PORT"
MODEL_SERVER_WORKERS = "MODEL_SERVER_WORKERS"
MODEL_SERVER_TIMEOUT = "MODEL_SERVER_TIMEOUT"
MAX_PAYLOAD_MB = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
LOG_LEVEL = "BYOC_LOG_LEVEL"
# 0.0.0.0 is the contract inside the container; tests and benchmarks bind 127.0.0.1.
BIND_HOST = "BYOC_BIND_HOST"

DEFAULT_BASE_DIR = "/opt/ml"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60
# SageMaker real-time endpoints cap request bodies at 6 MB; batch transform's MaxPayloadInMB too.
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_BIND_HOST = "0.0.0.0"

# Hyperparameters that SageMaker itself adds (automatic model tuning, framework estimators).
PLATFORM_HYPERPARAMETER_PREFIXES = ("_tuning_", "sagemaker_")

TRAINING_CHANNEL = "training"
VALIDATION_CHANNEL = "validation"

# The image's unprivileged user; serve's workers run as it when the container starts as root.
SERVING_USER = "model"
