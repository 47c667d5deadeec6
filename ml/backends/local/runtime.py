"""The two local runtimes: the checkout's programs as processes, or the built image via buildah.

``build_image`` in the process runtime builds nothing: the "image" is the program code itself,
identified by its hash, which is what a model version's lineage records. In the image runtime it
builds the real image with ``ml.imaging`` (buildah, no Docker daemon) and records its id, which
later ``--runtime image`` runs use.
"""

from __future__ import annotations

from pathlib import Path

from ml.backends.local.clock import now_iso
from ml.backends.local.layout import Layout
from ml.backends.local.programs import ImagePrograms, ProcessPrograms, Programs, program_hash
from ml.backends.local.store import StateStore
from ml.backends.records import ImageRecord
from ml.config import ProjectConfig
from ml.errors import UserInputError

KIND = "images"
LATEST = "latest"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def container_code(layout: Layout) -> Path:
    """The project's ``ml/container``; a project without one (a scratch folder) uses this checkout's."""
    for code in (layout.container_code, Path(__file__).resolve().parents[2] / "container"):
        if (code / "byoc").is_dir():
            return code
    raise UserInputError(f"the container programs are missing: {layout.container_code / 'byoc'} does not exist")


def programs_for(*, runtime: str, layout: Layout, store: StateStore) -> Programs:
    if runtime == "process":
        return ProcessPrograms(code=container_code(layout))
    record = store.get(KIND, LATEST)
    if record is None:
        raise UserInputError("no image has been built yet; run `invoke build-image --runtime image`, or use --runtime process")
    image = ImageRecord.from_dict(record)
    return ImagePrograms(image=image.uri, digest=image.digest)


def build(*, runtime: str, layout: Layout, store: StateStore, config: ProjectConfig, tag: str | None) -> ImageRecord:
    if runtime == "process":
        code = container_code(layout)
        return ImageRecord(uri=f"program:{code}", digest=program_hash(code), tag=tag or "", builder="program", created_at=now_iso())
    from ml import imaging  # buildah only matters to the image runtime

    missing = imaging.builder_missing()
    if missing:
        raise UserInputError(f"cannot build the image here ({missing}); use --runtime process")
    name = f"localhost/{config.ecr_repo}:{tag or 'latest'}"
    image_id = imaging.build_image(
        context_dir=layout.container_code,
        tag=name,
        base_image=imaging.ensure_debian_base(),
        ca_bundle=HOST_CA if HOST_CA.exists() else None,
    )
    record = ImageRecord(
        uri=name, digest=f"sha256:{image_id.removeprefix('sha256:')}", tag=tag or "latest", builder="buildah", created_at=now_iso()
    )
    store.put(KIND, LATEST, record.to_dict())
    return record
