"""Build and run container images with buildah, without a Docker daemon.

The local backend (``--runtime image``), the SageMaker backend and the image tests share this.
buildah runs with the ``vfs`` storage driver and ``chroot`` isolation because neither overlay
mounts nor user namespaces are available on the build machines. Base images cannot be pulled
there, so :func:`ensure_debian_base` makes one with debootstrap, once per machine.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ml.errors import ByocError

log = logging.getLogger(__name__)

DEBIAN_BASE = "localhost/debian-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
STORAGE = ("--storage-driver", "vfs")
# Where the host CA bundle is mounted during a build; the Dockerfile points pip at it.
BUILD_CA_PATH = "/run/host-ca.crt"


class ImageError(ByocError):
    """buildah, podman or debootstrap failed; the message carries the tool's own last lines."""


def builder_missing() -> str | None:
    """Why images cannot be built here, or ``None`` when buildah, podman and debootstrap exist."""
    missing = [tool for tool in ("buildah", "podman", "debootstrap") if shutil.which(tool) is None]
    return f"not installed: {', '.join(missing)}" if missing else None


def _run(argv: Sequence[str], *, stdin: int | None = None, timeout: float = 1800) -> str:
    proc = subprocess.run(list(argv), stdin=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        verb = " ".join(a for a in argv[:5] if not a.startswith("-") and a not in STORAGE)
        raise ImageError(f"{verb} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def image_id(name: str) -> str | None:
    """The full id of a local image, or ``None`` when there is no image of that name."""
    proc = subprocess.run(["buildah", *STORAGE, "images", "-q", "--no-trunc", name], capture_output=True, text=True, check=False)
    ids = proc.stdout.split()
    return ids[0] if proc.returncode == 0 and ids else None


def ensure_debian_base(*, name: str = DEBIAN_BASE, suite: str = "bookworm", mirror: str = DEBIAN_MIRROR) -> str:
    """Return the id of a minimal Debian image called ``name``, making it with debootstrap if absent.

    Building takes about half a minute, so an existing image is reused: once per machine.
    """
    existing = image_id(name)
    if existing:
        return existing
    log.info("making %s with debootstrap from %s", name, mirror)
    with tempfile.TemporaryDirectory(prefix="debian-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(["debootstrap", "--variant=minbase", suite, str(rootfs), mirror])
        # debootstrap leaves its downloaded .debs and package lists behind: over 100 MB of nothing.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        # Importing a tarball of the root file system gives a one-layer image with no registry.
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            _run(["podman", *STORAGE, "import", "-", name], stdin=tar.stdout.fileno() if tar.stdout else None)
        finally:
            if tar.stdout:
                tar.stdout.close()
            tar.wait()
    made = image_id(name)
    if made is None:
        raise ImageError(f"podman import reported success but {name} is not listed by buildah")
    return made


def build_image(
    *,
    context_dir: Path,
    tag: str,
    base_image: str | None = None,
    ca_bundle: Path | None = None,
    dockerfile: Path | None = None,
) -> str:
    """Build the Dockerfile in ``context_dir`` as ``tag`` and return the image id.

    ``base_image`` overrides the Dockerfile's ``BASE_IMAGE`` (for example :data:`DEBIAN_BASE`).
    ``ca_bundle`` is mounted read-only for pip, as behind a TLS-intercepting proxy; it is not
    copied into any layer.
    """
    argv = ["buildah", *STORAGE, "bud", "--isolation", "chroot", "--network", "host", "-t", tag]
    if dockerfile is not None:
        argv += ["-f", str(dockerfile)]
    if base_image:
        # An id from ensure_debian_base() works too: FROM takes a bare id, not "sha256:<id>".
        argv += ["--build-arg", f"BASE_IMAGE={base_image.removeprefix('sha256:')}"]
    if ca_bundle is not None:
        argv += ["-v", f"{ca_bundle.resolve()}:{BUILD_CA_PATH}:ro", "--build-arg", f"PIP_CERT={BUILD_CA_PATH}"]
    with tempfile.TemporaryDirectory(prefix="iid-") as tmp:
        iidfile = Path(tmp) / "iid"
        _run([*argv, "--iidfile", str(iidfile), str(context_dir)])
        return iidfile.read_text(encoding="utf-8").strip()


def run_argv(
    container: str,
    command: Sequence[str],
    *,
    mounts: Mapping[Path, str] | None = None,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> list[str]:
    """The argv that runs ``command`` inside ``container`` (host network, chroot isolation).

    Returned rather than run, so callers choose ``subprocess.run`` (train) or ``Popen`` (serve).
    The image runs as uid 1000, so mounted directories must be writable by it; ``user``
    (for example ``"0:0"``) overrides the image's user where that is not possible.
    """
    argv = ["buildah", *STORAGE, "run", "--isolation", "chroot", "--network", "host"]
    if user is not None:
        argv += ["--user", user]
    for host, inside in (mounts or {}).items():
        argv += ["-v", f"{host.resolve()}:{inside}"]
    for key, value in (env or {}).items():
        argv += ["--env", f"{key}={value}"]
    return [*argv, container, "--", *command]
