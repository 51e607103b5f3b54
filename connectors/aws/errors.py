"""Every botocore error turned into syncd's own, in one place: what is transient, what is permanent, what the
message says. AWS validation messages may quote the input they refused (`Value '...' at 'value'`), so they are
never passed through as they are. A server's `Retry-After` goes with a transient error, for the core's retry."""

from __future__ import annotations

import re
from typing import NoReturn

from syncd.connector import retry_after_seconds
from syncd.errors import ConnectorError, PermanentError, TransientError
from syncd.secret import REDACTOR

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalServiceError",
        "InternalServiceErrorException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        # SSM: another update of the same parameter is in progress.
        "TooManyUpdates",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
# A KMS key that cannot be used (EncryptionFailure and DecryptionFailure are Secrets Manager's answers).
KMS_CODES = frozenset(
    {
        "EncryptionFailure",
        "DecryptionFailure",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "KMSInvalidKeyUsageException",
        "InvalidKeyId",
        "DisabledException",
        "KeyUnavailableException",
        "NotFoundException",
    }
)
# Greedy, to the last "' at": a value may itself hold "' at".
_QUOTED_VALUE = re.compile(r"(?is)value\s*'.*'\s*at")


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def safe_message(exc: BaseException) -> str:
    """The AWS message, without any quoted input and with every known secret value scrubbed."""
    response = getattr(exc, "response", None)
    message = response.get("Error", {}).get("Message", "") if isinstance(response, dict) else ""
    message = _QUOTED_VALUE.sub("value [hidden] at", str(message))
    return REDACTOR.redact(message)[:300]


def retry_after(exc: BaseException) -> float | None:
    """The wait in seconds the server's `Retry-After` header asks for (a number of seconds or an HTTP date)."""
    response = getattr(exc, "response", None)
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) if isinstance(response, dict) else {}
    return retry_after_seconds(next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), None))


def translate(
    exc: BaseException,
    target: str,
    *,
    operation: str,
    address: str | None = None,
    resource: str | None = None,
    kms_key_id: str | None = None,
) -> NoReturn:
    """Raise syncd's error for a botocore exception raised by `operation` (e.g. 'secretsmanager:PutSecretValue') on
    `resource` (by default the item's `address`)."""
    if isinstance(exc, ConnectorError):
        raise exc
    message, transient = _explain(exc, operation, resource or address, kms_key_id)
    if transient:
        raise TransientError(message, target=target, address=address, retry_after=retry_after(exc)) from None
    raise PermanentError(message, target=target, address=address) from None


def _explain(exc: BaseException, operation: str, resource: str | None, kms_key_id: str | None) -> tuple[str, bool]:
    """What failed, in words that quote no input, and whether a retry may succeed."""
    from botocore import exceptions as boto

    if isinstance(exc, boto.ClientError):
        code = error_code(exc) or "Unknown"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = safe_message(exc)
        if code in TRANSIENT_CODES or status >= 500:
            return f"{operation} failed: {code} (HTTP {status})", True
        if code in KMS_CODES or (code in ACCESS_DENIED_CODES and "kms" in message.lower()):
            key = kms_key_id or "the default key aws/secretsmanager or aws/ssm"
            return (
                f"{operation} failed: {code}: the KMS key {key} cannot be used; the caller needs kms:Encrypt, "
                "kms:Decrypt and kms:GenerateDataKey on it, and the key must be enabled, in this region"
                + (f" ({message})" if message else "")
            ), False
        if code in ACCESS_DENIED_CODES:
            where = f" on {resource}" if resource else ""
            return (
                f"access denied: {operation} was refused{where}; grant the IAM action {operation} "
                "(syncd iam-policy prints the policy this target needs)"
            ), False
        if code in CREDENTIAL_CODES:
            return (
                f"{operation} failed: the AWS credentials were rejected ({code}); check the profile, role or keys",
                False,
            )
        return f"{operation} failed: {code}" + (f": {message}" if message else ""), False
    if isinstance(
        exc, boto.NoCredentialsError | boto.PartialCredentialsError | boto.NoRegionError | boto.ProfileNotFound
    ):
        return f"{operation} failed: {exc}", False
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectionError | boto.HTTPClientError):
        return f"{operation} failed: cannot reach the endpoint ({type(exc).__name__})", True
    if isinstance(exc, boto.ParamValidationError):
        return f"{operation} failed: the request was invalid", False
    return f"{operation} failed: {type(exc).__name__}", False
