"""Build the container image, and find the digest-pinned image a training job runs.

Downstream steps run ``repository@sha256:...``: a tag can be moved, a digest cannot, so a model
version always names the exact bytes it was trained with. Pushing lives in :mod:`push`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ml.backends.records import ImageRecord
from ml.errors import NotFoundError, UserInputError
from ml.gitrev import commit_tag_among
from ml.imaging import STORAGE

BUILDERS = ("docker", "podman", "buildah")
# buildah and podman need these on machines without overlay mounts or user namespaces.
_STORAGE = STORAGE  # one home: ml.imaging

Runner = Callable[[Sequence[str], str | None], str]


def run_command(argv: Sequence[str], stdin: str | None) -> str:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise UserInputError(f"`{' '.join(argv[:2])}` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def detect_builder(which: Callable[[str], str | None] = shutil.which, runner: Runner = run_command) -> str:
    """docker when its daemon answers, else podman, else buildah."""
    if which("docker"):
        try:
            runner(["docker", "info"], None)
            return "docker"
        except UserInputError:
            pass  # a client without a daemon cannot build
    for name in ("podman", "buildah"):
        if which(name):
            return name
    raise UserInputError("no image builder found; install docker, podman or buildah")


def cli(builder: str) -> list[str]:
    """The builder's command with the storage flags it needs here."""
    return [builder, *_STORAGE] if builder in ("podman", "buildah") else [builder]


def build_local(*, builder: str, context_dir: Path, local_name: str, base_image: str | None = None, runner: Runner = run_command) -> None:
    """Build the Dockerfile in ``context_dir`` (``base_image`` overrides its ``BASE_IMAGE``);
    buildah goes through :mod:`ml.imaging` (vfs, chroot)."""
    if builder == "buildah":
        from ml.imaging import build_image

        build_image(context_dir=context_dir, tag=local_name, base_image=base_image)
        return
    base = ["--build-arg", f"BASE_IMAGE={base_image}"] if base_image else []
    runner([*cli(builder), "build", *base, "-t", local_name, str(context_dir)], None)


# CodePipeline hands the ECR source artifact to CodeBuild here (secondary source "image").
IMAGE_SOURCE_ENV = "CODEBUILD_SRC_DIR_image"
IMAGE_DETAIL_FILE = "imageDetail.json"
_PINNED = re.compile(r"^[^@\s]+@(sha256:[0-9a-f]{64})$")


def pinned_record(uri: str, *, tag: str = "", origin: str) -> ImageRecord:
    """An :class:`ImageRecord` for ``repository@sha256:...``; a tag-only URI is refused."""
    match = _PINNED.match(uri)
    if match is None:
        raise UserInputError(
            f"training image {uri!r} from {origin} is not digest-pinned (repository@sha256:<64 hex>); "
            "a tag can move, so training only runs an image by digest"
        )
    return ImageRecord(uri=uri, digest=match.group(1), tag=tag, builder="ecr")


def image_from_detail(path: Path) -> ImageRecord:
    """The image in a CodePipeline ECR source artifact (``imageDetail.json``: ``ImageURI``, ``ImageTags``)."""
    try:
        detail = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise UserInputError(f"{IMAGE_SOURCE_ENV} is set but {path} does not exist; is the ECR source an input of this build?") from err
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path} is not valid JSON ({err})") from err
    uri = detail.get("ImageURI") if isinstance(detail, dict) else None
    if not isinstance(uri, str):
        raise UserInputError(f"{path} has no ImageURI; expected the ECR source action's imageDetail.json")
    tags = [t for t in detail.get("ImageTags") or [] if isinstance(t, str)]
    # The commit tag keeps the job name's commit part and the lineage meaningful. ImageTags is a
    # set (registration adds registered-<group>-vN, `latest` moves): its order means nothing.
    return pinned_record(uri, tag=commit_tag_among(tags), origin=str(path))


def training_image(*, explicit: str | None, environ: Mapping[str, str], last_image: Callable[[], ImageRecord]) -> ImageRecord:
    """The image to train: ``explicit`` → ``$CODEBUILD_SRC_DIR_image/imageDetail.json`` → the last push here."""
    if explicit:
        return pinned_record(explicit, origin="the image argument")
    source_dir = environ.get(IMAGE_SOURCE_ENV)
    if source_dir:
        return image_from_detail(Path(source_dir) / IMAGE_DETAIL_FILE)
    try:
        record = last_image()
    except NotFoundError as err:
        raise NotFoundError(
            "no training image: none was given, this is not a pipeline build with an image source "
            f"(${IMAGE_SOURCE_ENV}), and no image was pushed from this checkout; "
            "run `invoke build-image --backend sagemaker` first"
        ) from err
    pinned_record(record.uri, origin="the last pushed image")  # refuses a tag-only URI
    return record
