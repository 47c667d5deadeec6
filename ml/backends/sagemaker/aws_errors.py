"""Turn botocore failures into :class:`ml.errors.AwsError` messages a user can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ml.errors import AwsError

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"}
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
_IMAGE_WORDS = ("image", "ecr", "digest")
_MISSING_WORDS = ("does not exist", "not found", "cannot find", "could not find", "not exist")


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", ""))


def is_not_found(err: ClientError) -> bool:
    """SageMaker reports most missing resources as ValidationException "Could not find ..."."""
    code, message = error_code(err), error_message(err).lower()
    if code in ("ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "404"):
        return True
    return code in ("ValidationException", "ValidationError") and any(w in message for w in _MISSING_WORDS)


def translate(err: ClientError, *, service: str, action: str) -> AwsError:
    """An :class:`AwsError` for ``err`` that says what to change; raise it ``from err``."""
    code, message, operation = error_code(err), error_message(err), err.operation_name
    if code in _DENIED:
        return AwsError(f"{action}: access denied; grant `{service}:{operation}` to your AWS identity ({message})")
    if code in _EXPIRED:
        return AwsError(f"{action}: your AWS credentials are invalid or expired; refresh them (for example `aws sso login`)")
    if code in _THROTTLED:
        return AwsError(f"{action}: AWS kept throttling {service}:{operation} after retries; wait a minute and re-run the task")
    if code == "ResourceLimitExceeded":
        return AwsError(
            f"{action}: an account quota is exhausted ({message}); request an increase in Service Quotas or use a smaller instance type"
        )
    lowered = message.lower()
    if (
        code in ("ValidationException", "ValidationError")
        and any(w in lowered for w in _IMAGE_WORDS)
        and any(w in lowered for w in _MISSING_WORDS)
    ):
        return AwsError(f"{action}: the container image is missing from ECR ({message}); run `invoke build-image` first")
    return AwsError(f"{action}: {service}:{operation} failed with {code}: {message}")


@contextmanager
def aws_call(*, service: str, action: str) -> Iterator[None]:
    """Wrap AWS calls so that every failure reaches the user as an actionable :class:`AwsError`."""
    try:
        yield
    except ClientError as err:
        raise translate(err, service=service, action=action) from err
    except NoCredentialsError as err:
        raise AwsError(f"{action}: no AWS credentials found; configure a profile or environment credentials") from err
    except NoRegionError as err:
        raise AwsError(f"{action}: no AWS region set; set 'region' in cdktf.json") from err
    except BotoCoreError as err:
        raise AwsError(f"{action}: {err}") from err
