"""build-image on AWS: which commit (CodeBuild or git), the pushed digest, re-runs that converge."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sagemaker_setup import MANIFEST_V2, TEST_REPO

from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.clients import AwsClients
from ml.backends.sagemaker.push import marked_insecure
from ml.errors import UserInputError
from ml.gitrev import source_revision
from ml.names import REGISTRIES_CONF_ENV, SOURCE_VERSION_ENV, cached_base_image

TEST_SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeBuilder:
    """podman as the backend drives it: builds differ each time (builds are not bit-reproducible);
    a push lands in moto's ECR (``ecr``) or in a registry ECR does not front (``loopback``), writes
    the registry's digest to ``--digestfile``, and fails as podman does on an immutable tag."""

    def __init__(self, clients: AwsClients, *, target: str = "ecr") -> None:
        self.clients, self.target = clients, target
        self.commands: list[list[str]] = []
        self.logins: list[str] = []
        self.builds = 0
        self.local: dict[str, str] = {}  # image name -> which build it is
        self.loopback: dict[str, str] = {}  # tag -> digest, for the registry ECR does not know
        self.race_tag = ""  # another run pushes this tag just before ours

    def manifest(self, build: str) -> str:
        layer = "sha256:" + hashlib.sha256(build.encode()).hexdigest()
        return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_V2, "layers": [{"digest": layer}]})

    def __call__(self, argv: Sequence[str], stdin: str | None) -> str:
        args = [a for a in argv if a not in ("--storage-driver", "vfs")]
        self.commands.append(args)
        verb = args[1]
        if verb == "login":
            self.logins.append(stdin or "")
        elif verb == "build":
            self.builds += 1
            self.local[args[args.index("-t") + 1]] = f"build-{self.builds}"
        elif verb == "tag":
            self.local[args[3]] = self.local[args[2]]
        elif verb == "push":
            self._push(args)
        return ""

    def _push(self, args: list[str]) -> None:
        remote = args[-1]
        tag = remote.rsplit(":", 1)[1]
        manifest = self.manifest(self.local[remote])
        if self.target == "loopback":
            digest = self.loopback[tag] = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        else:
            ecr = self.clients.ecr
            if tag == self.race_tag:
                ecr.put_image(repositoryName=TEST_REPO, imageManifest=self.manifest("other-run"), imageTag=tag)
            held = ecr.batch_get_image(repositoryName=TEST_REPO, imageIds=[{"imageTag": tag}])["images"]
            if tag != "latest" and held and held[0]["imageManifest"] != manifest:
                raise UserInputError(
                    f"`podman push` failed (exit 125):\nError: tag invalid: The image tag '{tag}' already exists in the "
                    f"'{TEST_REPO}' repository and cannot be overwritten because the repository is immutable."
                )
            if not held or held[0]["imageManifest"] != manifest:
                ecr.put_image(repositoryName=TEST_REPO, imageManifest=manifest, imageTag=tag)
            digest = ecr_digest(self.clients, tag)  # the digest the registry computed
        if "--digestfile" in args:
            Path(args[args.index("--digestfile") + 1]).write_text(digest + "\n", encoding="utf-8")

    def pushes(self) -> list[str]:
        return [c[-1].rsplit(":", 1)[1] for c in self.commands if c[1] == "push"]


def git_checkout(root: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    (root / "README.md").write_text("x\n", encoding="utf-8")
    git("add", "README.md")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
    return git("rev-parse", "HEAD")


def ecr_digest(clients: AwsClients, tag: str) -> str:
    return str(clients.ecr.describe_images(repositoryName=TEST_REPO, imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"])


@pytest.fixture
def make_backend(config: Any, outputs: Any, clients: AwsClients, tmp_path: Path) -> Any:
    def make(runner: FakeBuilder, root: Path = tmp_path) -> SageMakerBackend:
        return SageMakerBackend(config=config, root=root, outputs=outputs, clients=clients, builder="podman", runner=runner)

    return make


def test_build_image_pushes_and_records_the_registry_digest(make_backend: Any, outputs: Any, clients: AwsClients, tmp_path: Path) -> None:
    sha = git_checkout(tmp_path)
    builder = FakeBuilder(clients)
    backend = make_backend(builder)
    record = backend.build_image()
    assert record.tag == sha
    assert record.digest == ecr_digest(clients, sha)  # what the push's --digestfile said, and what ECR lists
    assert record.uri == f"{outputs.ecr_repository_url}@{record.digest}"
    assert backend.state.last_image() == record
    # Only the commit tag is pushed; `latest` is moved by ECR's retag, to exactly that digest.
    assert builder.pushes() == [sha]
    assert ecr_digest(clients, "latest") == record.digest
    login = next(c for c in builder.commands if c[1] == "login")
    assert login[-1] == outputs.ecr_repository_url.split("/")[0]
    token = base64.b64decode(clients.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode()
    assert builder.logins == [token.split(":", 1)[1]]
    assert not any(builder.logins[0] in part for c in builder.commands for part in c)


def test_dirty_tree_is_tagged_dirty(make_backend: Any, clients: AwsClients, tmp_path: Path) -> None:
    sha = git_checkout(tmp_path)
    (tmp_path / "README.md").write_text("changed\n", encoding="utf-8")
    assert make_backend(FakeBuilder(clients)).build_image().tag == f"{sha}-dirty"


def test_codebuild_source_without_git_takes_the_resolved_version(
    make_backend: Any, clients: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCE_VERSION_ENV, TEST_SHA)
    builder = FakeBuilder(clients)
    record = make_backend(builder).build_image()  # tmp_path has no .git, as a CODE_ZIP artifact
    assert record.tag == TEST_SHA
    assert not any(c[0] == "git" for c in builder.commands)
    commit = source_revision(tmp_path, environ={SOURCE_VERSION_ENV: TEST_SHA})
    assert commit.commit == TEST_SHA and commit.origin == "codebuild" and not commit.dirty


def test_no_git_and_no_variable_says_to_pass_a_tag(make_backend: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = FakeBuilder(clients)
    with pytest.raises(UserInputError, match=f"not a git checkout.*{SOURCE_VERSION_ENV} is not set.*--tag"):
        make_backend(builder).build_image()
    assert builder.commands == []  # nothing built or pushed
    monkeypatch.setenv(SOURCE_VERSION_ENV, "s3-object-version-Abc.1")
    with pytest.raises(UserInputError, match=f"{SOURCE_VERSION_ENV} is 's3-object-version-Abc.1', not a git commit id"):
        make_backend(builder).build_image()
    assert make_backend(builder).build_image(tag="release-1").tag == "release-1"


def test_rerun_on_the_same_commit_reuses_the_registry_image(
    make_backend: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCE_VERSION_ENV, TEST_SHA)
    builder = FakeBuilder(clients)
    first = make_backend(builder).build_image()
    # Someone moved `latest` elsewhere in between; the re-run must bring it back to the commit's image.
    clients.ecr.put_image(repositoryName=TEST_REPO, imageManifest=builder.manifest("elsewhere"), imageTag="latest")
    second = make_backend(builder).build_image()  # a second, different build of the same commit
    assert builder.builds == 2
    assert second.digest == first.digest == ecr_digest(clients, TEST_SHA)
    assert ecr_digest(clients, "latest") == first.digest  # never the second build's bytes
    assert builder.pushes() == [TEST_SHA]  # the immutable tag was not pushed again
    third = make_backend(builder).build_image()  # `latest` already right: PutImage's "exists" is fine
    assert third.digest == first.digest


def test_push_that_loses_a_race_reuses_the_winner(make_backend: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SOURCE_VERSION_ENV, TEST_SHA)
    builder = FakeBuilder(clients)
    builder.race_tag = TEST_SHA
    record = make_backend(builder).build_image()
    winner = ecr_digest(clients, TEST_SHA)
    assert record.digest == winner
    held = clients.ecr.batch_get_image(repositoryName=TEST_REPO, imageIds=[{"imageDigest": winner}])["images"]
    assert held[0]["imageManifest"] == builder.manifest("other-run")
    assert ecr_digest(clients, "latest") == winner


def test_other_push_failures_are_not_taken_for_a_race(make_backend: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SOURCE_VERSION_ENV, TEST_SHA)

    def denied(argv: Sequence[str], stdin: str | None) -> str:
        if "push" in argv:
            raise UserInputError("`podman push` failed (exit 125):\ndenied: not authorized")
        return ""

    with pytest.raises(UserInputError, match="not authorized"):
        make_backend(denied).build_image()


def test_registry_ecr_does_not_front_records_the_push_digest(
    make_backend: Any, outputs: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rehearsal's loopback registry: ECR knows nothing, so the push itself gives the digest."""
    monkeypatch.setenv(SOURCE_VERSION_ENV, TEST_SHA)
    builder = FakeBuilder(clients, target="loopback")
    record = make_backend(builder).build_image()
    assert record.digest == builder.loopback[TEST_SHA] == builder.loopback["latest"]
    assert builder.pushes() == [TEST_SHA, "latest"]
    assert all("--digestfile" in c for c in builder.commands if c[1] == "push")
    assert clients.ecr.describe_images(repositoryName=TEST_REPO)["imageDetails"] == []


def test_docker_digest_comes_from_the_push_output(make_backend: Any, config: Any, outputs: Any, clients: AwsClients) -> None:
    from ml.backends.sagemaker.push import pushed_digest

    digest = "sha256:" + "a" * 64

    def docker(argv: Sequence[str], stdin: str | None) -> str:
        return f"abc: Pushed\n0123456789ab: digest: {digest} size: 1234\n" if argv[1] == "push" else ""

    assert pushed_digest(builder="docker", local_name="x:1", remote="r/x:1", runner=docker) == digest
    with pytest.raises(UserInputError, match="reported no sha256 digest"):
        pushed_digest(builder="docker", local_name="x:1", remote="r/x:1", runner=lambda a, s: "")


def test_only_a_registry_the_environment_marks_is_spoken_to_over_http(tmp_path: Path) -> None:
    conf = tmp_path / "registries.conf"
    conf.write_text('[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n', encoding="utf-8")
    env = {REGISTRIES_CONF_ENV: str(conf)}
    assert marked_insecure("127.0.0.1:5000", env)
    assert not marked_insecure("123456789012.dkr.ecr.us-east-1.amazonaws.com", env)
    assert not marked_insecure("127.0.0.1:5000", {})
    conf.write_text("[[registry]\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="cannot be read as registries.conf"):
        marked_insecure("127.0.0.1:5000", env)


def test_the_base_image_comes_through_the_pull_through_cache(make_backend: Any, outputs: Any, clients: AwsClients, tmp_path: Path) -> None:
    # Docker Hub limits anonymous pulls per address and CodeBuild's addresses are shared: the
    # build pulls ECR Public's debian through the build stack's cache rule, logged in first.
    git_checkout(tmp_path)
    builder = FakeBuilder(clients)
    make_backend(builder).build_image()
    verbs = [c[1] for c in builder.commands]
    assert verbs.index("login") < verbs.index("build")
    build = next(c for c in builder.commands if c[1] == "build")
    registry = outputs.ecr_repository_url.split("/", 1)[0]
    assert build[build.index("--build-arg") + 1] == f"BASE_IMAGE={registry}/scikit-byo-public/docker/library/debian:bookworm-slim"
    assert cached_base_image(outputs.ecr_repository_url, "scikit-byo") == build[build.index("--build-arg") + 1].split("=", 1)[1]
