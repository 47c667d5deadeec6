"""The SageMaker backend tests' constants and helpers, under a name no other test folder uses.

Test modules import these from here, never from ``conftest``: pytest loads every conftest of the
folders a run names as a module called ``conftest``, so ``from conftest import ...`` would get
whichever folder's conftest came last when several folders run together.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID

from ml.backends.sagemaker.clients import AwsClients

REPO_ROOT = Path(__file__).resolve().parents[4]
TEST_REGION = "us-east-1"
TEST_DATALAKE = "byoc-test-datalake"
TEST_DATALAKE_KEY = f"arn:aws:kms:{TEST_REGION}:{DEFAULT_ACCOUNT_ID}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TEST_GROUP = "scikit-byo"
TEST_REPO = "sagemaker-scikit-byo"
TEST_ALARMS = ("scikit-byo-endpoint-5xx", "scikit-byo-endpoint-p99")
TEST_SCHEDULE = "scikit-byo-monitor-schedule"  # the deploy stack's EventBridge rule, created disabled
TEST_CSV = b"setosa,5.1,3.5,1.4,0.2\nversicolor,7.0,3.2,4.7,1.4\n"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def push_fake_image(clients: AwsClients, tag: str) -> str:
    """What a real push leaves in ECR: a manifest under ``tag``; returns its digest."""
    layer = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_V2, "layers": [{"digest": layer}]})
    clients.ecr.put_image(repositoryName=TEST_REPO, imageManifest=manifest, imageTag=tag)
    # moto computes the digest its own way; the registry's digest is whatever it says.
    return str(clients.ecr.describe_images(repositoryName=TEST_REPO, imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"])
