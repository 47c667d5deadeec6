"""Whether a stage did what AWS would have done: the outcome, the image, the endpoint, the cleanup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml.names import TRAINING_DATA_KEY, TRANSFORM_SPLITS_PREFIX
from ml.tfstate import StackOutputs
from tools.rehearsal.faults import REASONS
from tools.rehearsal.plan import Stage
from tools.rehearsal.registry import RegistryClient

Verdict = tuple[str, str]  # (problem, note): a non-empty problem fails the stage


@dataclass(frozen=True, kw_only=True)
class StageChecks:
    registry: RegistryClient
    sagemaker: Any
    s3: Any
    outputs: StackOutputs  # as the deploy project carries them
    commit: str
    project: str

    def judge(self, stage: Stage, *, succeeded: bool, output: str, before: str | None) -> tuple[bool, str]:
        """``before``: the commit tag's digest before a build stage ran (``None`` if untagged)."""
        verdicts = [self.outcome(stage, succeeded=succeeded, output=output)]
        if not verdicts[-1][0] and stage.pipeline == "build":
            verdicts.append(self.image(stage, output=output, before=before))
        if not verdicts[-1][0] and stage.pipeline == "train" and stage.fault is None:
            verdicts.append(self.report())
        if not verdicts[-1][0] and stage.expect_version:
            verdicts.append(self.serving(stage.expect_version))
        if not verdicts[-1][0] and stage.expect_clean:
            verdicts.append(self.clean())
        if not verdicts[-1][0] and stage.expect_joined:
            verdicts.append(self.joined(output))
        problem = verdicts[-1][0]
        if problem:
            return False, problem
        return True, "; ".join(note for _, note in verdicts if note)

    def outcome(self, stage: Stage, *, succeeded: bool, output: str) -> Verdict:
        if stage.fault is None:
            return ("", "") if succeeded else ("the build failed", "")
        reason = REASONS[stage.fault].split("{")[0]
        if succeeded:
            return f"expected a failure ({stage.fault}) but the build succeeded", ""
        if reason not in output:
            return f"the build failed, but its output does not carry the reason {reason!r}", ""
        return "", f"failed as injected ({stage.fault}), reason reported"

    @property
    def repository(self) -> str:
        return self.outputs.ecr_repository_name

    def image(self, stage: Stage, *, output: str, before: str | None) -> Verdict:
        """The commit tag and latest name one image, whose registry digest the build recorded;
        a re-run leaves the commit tag's digest as it was."""
        tag = self.commit
        digest = self.registry.head_digest(self.repository, tag)
        latest = self.registry.head_digest(self.repository, "latest")
        if digest is None or digest != latest:
            return f"registry: {self.repository}:{tag} is {digest}, latest is {latest}; both must name the pushed image", ""
        if f"@{digest}" not in output:
            return f"the build did not record the registry's digest {digest}", ""
        if stage.expect_converged:
            if before is None:
                return "a re-run needs an earlier push of the same commit; run the first build stage too", ""
            if digest != before:
                return f"the re-run moved {self.repository}:{tag} from {before} to {digest}; an immutable tag must converge", ""
            return "", f"converged: {self.repository}:{tag} still {digest[:19]}…"
        return "", f"{self.repository}:{tag} = latest = {digest[:19]}…, recorded"

    def serving(self, expected: int) -> Verdict:
        from ml.backends.sagemaker.naming import version_of_config

        name = self.outputs.endpoint_name
        version = version_of_config(self.sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"])
        if version != expected:
            return f"the endpoint serves version {version}, expected {expected}", ""
        return "", f"endpoint serves version {version}"

    def report(self) -> Verdict:
        """The newest model version carries its training report's URI, and the report is in the data lake."""
        from ml.reports.aws import report_uri

        group = self.outputs.model_package_group
        listed = self.sagemaker.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
        newest = listed["ModelPackageSummaryList"][0]["ModelPackageArn"]
        uri = report_uri(self.sagemaker.describe_model_package(ModelPackageName=newest))
        if not uri:
            return f"the newest model version ({newest}) carries no training report", ""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            size = self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except Exception as err:  # botocore's ClientError: the object is missing
            return f"the report {uri} named on {newest} is not in the data lake ({err})", ""
        return "", f"training report {uri} ({size} bytes)"

    def joined(self, output: str) -> Verdict:
        """The transform's one joined output holds a line per input record, in input order, and the
        split it was made from is gone from the data lake."""
        import re

        found = re.search(r"joined the (\d+) parts' outputs into (s3://\S+)", output)
        if found is None:
            return "the transform did not split its input and join the parts' outputs", ""
        lake = self.outputs.datalake_bucket
        bucket, _, key = found.group(2).removeprefix("s3://").partition("/")
        joined = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        records = [r for r in self.s3.get_object(Bucket=lake, Key=TRAINING_DATA_KEY)["Body"].read().splitlines() if r]
        if [line[: len(r) + 1] for line, r in zip(joined, records, strict=False)] != [r + b"," for r in records] or len(joined) != len(
            records
        ):
            return f"{found.group(2)} does not hold one line per record of {TRAINING_DATA_KEY}, in order", ""
        left = self.s3.list_object_versions(Bucket=lake, Prefix=f"{TRANSFORM_SPLITS_PREFIX}/")
        if left.get("Versions") or left.get("DeleteMarkers"):
            return f"the split under s3://{lake}/{TRANSFORM_SPLITS_PREFIX}/ was not deleted after the join", ""
        return "", f"{found.group(1)} parts joined into {found.group(2)} ({len(joined)} records, in order)"

    def clean(self) -> Verdict:
        """Nothing of this project is left: endpoints, endpoint configs, models."""
        sm, project = self.sagemaker, self.project
        left = [f"endpoint/{e['EndpointName']}" for e in sm.list_endpoints(NameContains=project)["Endpoints"]]
        left += [f"endpoint-config/{c['EndpointConfigName']}" for c in sm.list_endpoint_configs(NameContains=project)["EndpointConfigs"]]
        left += [f"model/{m['ModelName']}" for m in sm.list_models(NameContains=project)["Models"]]
        return (f"teardown left {', '.join(left)} behind", "") if left else ("", "nothing left behind")
