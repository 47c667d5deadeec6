"""What a transform job leaves in S3, for fakes over moto (whose jobs write nothing).

As AWS documents it (TransformOutput.S3OutputPath; batch transform troubleshooting): every input
object under the job's ``S3Uri`` prefix gets ``<S3OutputPath>/<name>.out``, its records in input
order, each ending with a newline (``AssembleWith=Line``); an object with a bad record gets no
output at all, the other objects still do, and the job is then marked Failed. The "model" answers
each record with its first field (the sample's label), so outputs are checkable by eye; with
``JoinSource=Input`` the answer follows the record after a comma.
"""

from __future__ import annotations

import time
from typing import Any

BAD = b"not-a-number"  # a record holding this is one the model refuses
DATA_LOG_HOST = "i-0123456789abcdef0-1700000000"


def write_outputs(s3: Any, logs: Any | None, request: dict[str, Any]) -> list[str]:
    """Transform every object of ``request``'s input; return the keys of those that failed."""
    bucket, prefix = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].removeprefix("s3://").split("/", 1)
    out_bucket, out_prefix = request["TransformOutput"]["S3OutputPath"].removeprefix("s3://").split("/", 1)
    join = request.get("DataProcessing", {}).get("JoinSource") == "Input"
    failed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            records = [line for line in body.split(b"\n") if line]
            if any(BAD in record for record in records):
                failed.append(item["Key"])
                _data_log(logs, request["TransformJobName"], f"s3://{bucket}/{item['Key']}")
                continue
            answers = b"".join((record + b"," if join else b"") + record.split(b",")[0] + b"\n" for record in records)
            name = item["Key"].rsplit("/", 1)[-1]
            s3.put_object(Bucket=out_bucket, Key=f"{out_prefix.rstrip('/')}/{name}.out", Body=answers)
    return failed


def _data_log(logs: Any | None, job: str, uri: str) -> None:
    """The job's data log names the object that failed and the model's answer (the stream AWS
    names ``[transform-job-name]/[instance-id]-[epoch_timestamp]/data-log``)."""
    if logs is None:
        return
    group, stream = "/aws/sagemaker/TransformJobs", f"{job}/{DATA_LOG_HOST}/data-log"
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [f"{uri}: ClientError: 400", f"{uri}: Message: line 1 column 2: 'not-a-number' is not a number"]
    now = int(time.time() * 1000)  # CloudWatch drops events older than its retention window
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": m} for m in events])
