"""Where the console reads report files and monitor runs: the state directory, or the data lake.

Under ``/reports/<path>`` the console serves files of one tree: locally ``<local_state_dir>/reports/``
(training reports ``<group>-<version>/``, monitor reports ``monitor-*.html`` with their summaries);
on AWS the data lake's ``reports/`` and ``monitor-reports/`` prefixes, read with the user's own
credentials. :func:`clean_path` is the only way from a URL to a file or key: every part must be
a plain name (letters, digits, ``.``, ``_``, ``-``, not starting with a dot), so ``..``, absolute
paths, backslashes and hidden files cannot be named; locally the resolved path must also stay
inside the reports folder, so a symbolic link cannot lead out of it either.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ml.errors import AwsError, NotFoundError, StateError, UserInputError
from ml.monitor.summary import SUMMARY_SUFFIX, RunSummary
from ml.names import MONITOR_REPORTS_PREFIX, REPORTS_PREFIX

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png", ".json": "application/json"}
MAX_REPORT_BYTES = 32 << 20  # a report page with its plots is well under this; anything bigger is not ours
MAX_RUNS = 50  # monitor runs listed, newest first
_PART = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")


def clean_path(path: str) -> tuple[str, ...]:
    """``path``'s parts if it names a report file, else a UserInputError saying what is allowed."""
    parts = tuple(path.split("/"))
    if len(parts) > 8 or not all(_PART.match(p) for p in parts):
        raise UserInputError(f"{path!r} is not a report path: use plain names (letters, digits, '.', '_', '-') separated by '/'")
    if Path(parts[-1]).suffix not in CONTENT_TYPES:
        raise UserInputError(f"{path!r} is not a report file: only {', '.join(CONTENT_TYPES)} files are served")
    return parts


@dataclass(frozen=True, kw_only=True)
class MonitorRun:
    summary: RunSummary
    report_path: str  # under /reports/


class ReportSource(Protocol):
    def describe(self) -> str: ...

    def read(self, path: str) -> bytes:
        """The file at ``path`` (see :func:`clean_path`); NotFoundError when there is none."""
        ...

    def version_folder(self, *, group: str, version: int) -> str:
        """The report folder of a model version, as a path under ``/reports/``."""
        ...

    def monitor_runs(self) -> list[MonitorRun]:
        """The newest monitor runs (at most :data:`MAX_RUNS`), newest first."""
        ...


class LocalReports:
    def __init__(self, *, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return str(self.folder)

    def read(self, path: str) -> bytes:
        base = self.folder.resolve()
        target = base.joinpath(*clean_path(path)).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            raise NotFoundError(f"no report file {path!r} under {self.folder}")
        if target.stat().st_size > MAX_REPORT_BYTES:
            raise UserInputError(f"{path!r} is larger than a report can be ({MAX_REPORT_BYTES >> 20} MiB); open it from {self.folder}")
        return target.read_bytes()

    def version_folder(self, *, group: str, version: int) -> str:
        return f"{group}-{version:06d}"  # ml.reports.local.report_folder, relative to the reports folder

    def monitor_runs(self) -> list[MonitorRun]:
        runs = []
        for path in sorted(self.folder.glob(f"monitor-*{SUMMARY_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)[:MAX_RUNS]:
            try:
                summary = RunSummary.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as err:
                raise StateError(f"{path} is not a monitor run summary ({err}); delete it or run the monitor again") from err
            runs.append(MonitorRun(summary=summary, report_path=summary.report))
        return runs


class DataLakeReports:
    """Reports in the data lake, read through the user's credentials (a boto3 S3 client)."""

    def __init__(self, *, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def describe(self) -> str:
        return f"s3://{self.bucket}"

    def read(self, path: str) -> bytes:
        parts = clean_path(path)
        if parts[0] not in (REPORTS_PREFIX, MONITOR_REPORTS_PREFIX):
            raise NotFoundError(f"no report file {path!r}: reports live under {REPORTS_PREFIX}/ and {MONITOR_REPORTS_PREFIX}/")
        key = "/".join(parts)
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFoundError(f"no report file s3://{self.bucket}/{key}") from err
            raise _aws(err, f"reading s3://{self.bucket}/{key}") from err
        except BotoCoreError as err:
            raise AwsError(f"reading s3://{self.bucket}/{key}: {err}") from err
        if int(answer.get("ContentLength", 0)) > MAX_REPORT_BYTES:
            answer["Body"].close()
            raise UserInputError(f"s3://{self.bucket}/{key} is larger than a report can be ({MAX_REPORT_BYTES >> 20} MiB)")
        with answer["Body"] as body:
            data: bytes = body.read()
        return data

    def version_folder(self, *, group: str, version: int) -> str:
        return f"{REPORTS_PREFIX}/{group}/{version:06d}"  # ml.reports.aws.report_prefix

    def monitor_runs(self) -> list[MonitorRun]:
        summaries = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{MONITOR_REPORTS_PREFIX}/")
            for page in pages:
                summaries += [o for o in page.get("Contents", []) if str(o["Key"]).endswith(SUMMARY_SUFFIX)]
        except ClientError as err:
            raise _aws(err, f"listing s3://{self.bucket}/{MONITOR_REPORTS_PREFIX}/") from err
        except BotoCoreError as err:
            raise AwsError(f"listing s3://{self.bucket}/{MONITOR_REPORTS_PREFIX}/: {err}") from err
        runs = []
        for item in sorted(summaries, key=lambda o: o["LastModified"], reverse=True)[:MAX_RUNS]:
            key = str(item["Key"])
            try:
                summary = RunSummary.from_dict(json.loads(self.read(key)))
            except json.JSONDecodeError as err:
                raise StateError(f"s3://{self.bucket}/{key} is not a monitor run summary ({err})") from err
            runs.append(MonitorRun(summary=summary, report_path=f"{key.rsplit('/', 1)[0]}/{summary.report}"))
        return runs


def _aws(err: ClientError, action: str) -> AwsError:
    from ml.backends.sagemaker.aws_errors import translate  # botocore's words to a user's: one home

    return translate(err, service="s3", action=action)
