"""Options of the `vault` connector: the connection and login shared by source and sink (credentials as
`SecretStr`, so a repr never shows them), and each role's own."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from syncd.connector import Options, path_field, path_parts, url_location

_ADDRESS = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")


def unresolved(value: str) -> bool:
    """Whether `value` still holds a ${env:..}/${file:..} reference: checked again once the core resolved it."""
    return "${" in value


def clean_path(value: str, what: str, *, allow_empty: bool) -> str:
    """`value` without its outer slashes; refuses empty, '.' and '..' segments (they would change the URL)."""
    cleaned = value.strip("/")
    if not cleaned:
        if allow_empty:
            return ""
        raise ValueError(f"{what} must not be empty")
    for segment in cleaned.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"{what} {value!r} has an empty, '.' or '..' segment")
    return cleaned


def _cleaned(what: str, *, allow_empty: bool = False) -> AfterValidator:
    return AfterValidator(lambda value: clean_path(value, what, allow_empty=allow_empty))


MountPath = Annotated[str, _cleaned("mount_path")]


class TokenAuth(Options):
    """Use a token given to syncd (a Vault Agent sink file, a CI variable)."""

    method: Literal["token"]
    token: SecretStr


class AppRoleAuth(Options):
    """Log in with an AppRole's role_id and secret_id."""

    method: Literal["approle"]
    role_id: SecretStr
    secret_id: SecretStr
    mount_path: MountPath = "approle"


class KubernetesAuth(Options):
    """Log in with the pod's service account token, which Vault checks through the Kubernetes TokenReview API."""

    method: Literal["kubernetes"]
    role: str = Field(min_length=1)
    token_path: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    mount_path: MountPath = "kubernetes"

    @field_validator("token_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") and not unresolved(value):
            raise ValueError("token_path must be an absolute path")
        return value


Auth = Annotated[TokenAuth | AppRoleAuth | KubernetesAuth, Field(discriminator="method")]
AUTH_METHODS = ("token", "approle", "kubernetes")


class VaultConnection(Options):
    """Where Vault is, which KV mount, how to trust it and how to log in: shared by source and sink."""

    address: str
    auth: Auth
    namespace: Annotated[str, _cleaned("namespace")] | None = None
    mount: Annotated[str, _cleaned("mount")] = "secret"
    kv_version: Literal["auto", 1, 2] = "auto"
    # Marked as paths: the core makes a relative one relative to the manifest's folder.
    ca_cert: str | None = path_field(default=None)
    client_cert: str | None = path_field(default=None)
    client_key: str | None = path_field(default=None)
    tls_skip_verify: bool = False
    timeout: float = Field(10.0, gt=0, le=300)

    @field_validator("auth", mode="wrap")
    @classmethod
    def _auth(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Say plainly which methods exist, and report a method's fields as auth.FIELD, not auth.METHOD.FIELD."""
        known = ", ".join(AUTH_METHODS)
        if isinstance(value, BaseModel):
            return handler(value)
        if not isinstance(value, dict):
            raise ValueError(f"auth must be a mapping with a method: {known}")
        method = value.get("method")
        if method is None:
            raise ValueError(f"auth needs a method: {known}")
        if method not in AUTH_METHODS:
            raise ValueError(f"unknown auth method {method!r}; use one of {known}")
        try:
            return handler(value)
        except ValidationError as exc:
            errors = [{**e, "loc": e["loc"][1:] if e["loc"][:1] == (method,) else e["loc"]} for e in exc.errors()]
            raise ValidationError.from_exception_data(exc.title, errors) from None  # type: ignore[arg-type]

    def location(self, *paths: str | None) -> tuple[str, ...]:
        """Where `paths` under the mount live, for the core's overlap check: the address, then the namespace,
        mount and path names as one path, since Vault routes 'ns/mount/path' in the root namespace alike."""
        return ("vault", url_location(self.address), *path_parts(self.namespace, self.mount, *paths))

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(value) and not unresolved(value):
            raise ValueError("address must be an http:// or https:// URL, such as https://vault.example.com:8200")
        return value.rstrip("/")

    @field_validator("kv_version", mode="before")
    @classmethod
    def _kv_version(cls, value: Any) -> Any:
        # YAML gives 2, a quoted "2" is as clear.
        return int(value) if value in ("1", "2") else value

    @model_validator(mode="after")
    def _tls(self) -> VaultConnection:
        if self.client_key and not self.client_cert:
            raise ValueError("client_key needs client_cert")
        if self.tls_skip_verify and self.ca_cert:
            raise ValueError("ca_cert and tls_skip_verify contradict each other; keep ca_cert")
        return self


class VaultSourceOptions(VaultConnection):
    # path → KV v2 version to read instead of the latest.
    versions: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: dict[str, int]) -> dict[str, int]:
        return {clean_path(path, "a versions path", allow_empty=False): version for path, version in value.items()}

    @model_validator(mode="after")
    def _pins_need_v2(self) -> VaultSourceOptions:
        if self.versions and self.kv_version == 1:
            raise ValueError("versions needs KV version 2; KV version 1 keeps no versions")
        return self


class VaultSinkOptions(VaultConnection):
    # The folder under the mount that syncd's items live in: names are relative to it and observe lists only inside it.
    prefix: Annotated[str, _cleaned("prefix", allow_empty=True)]
    destroy_on_delete: bool = False
