"""The Secret types syncd writes: the keys each requires, and how a dockerconfigjson Secret is built.

The required keys are the apiserver's (`ValidateSecret` in k8s.io/kubernetes/pkg/apis/core/validation/
validation.go): `kubernetes.io/tls` needs both `tls.crt` and `tls.key`; `kubernetes.io/basic-auth` at least one of
`username` and `password`; `kubernetes.io/ssh-auth` a non-empty `ssh-privatekey`; `kubernetes.io/dockerconfigjson`
a `.dockerconfigjson` holding a JSON object. Opaque has no rule.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Literal

from syncd.secret import Secret

OPAQUE = "Opaque"
TLS = "kubernetes.io/tls"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
BASIC_AUTH = "kubernetes.io/basic-auth"
SSH_AUTH = "kubernetes.io/ssh-auth"
SecretType = Literal[
    "Opaque",
    "kubernetes.io/tls",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
]
DOCKER_CONFIG_KEY = ".dockerconfigjson"


def type_problems(secret_type: str, data: Mapping[str, Secret]) -> list[str]:
    """What `data` lacks to be a Secret of `secret_type`, as phrases naming keys, never a value."""
    if secret_type == TLS:
        return [f"needs the key {key!r}" for key in ("tls.crt", "tls.key") if key not in data]
    if secret_type == BASIC_AUTH:
        return [] if "username" in data or "password" in data else ["needs the key 'username' or 'password'"]
    if secret_type == SSH_AUTH:
        present = "ssh-privatekey" in data and data["ssh-privatekey"].reveal()
        return [] if present else ["needs a non-empty key 'ssh-privatekey'"]
    if secret_type == DOCKER_CONFIG_JSON:
        if DOCKER_CONFIG_KEY not in data:
            return [f"needs the key {DOCKER_CONFIG_KEY!r}"]
        try:
            parsed = json.loads(data[DOCKER_CONFIG_KEY].reveal())
        except ValueError:
            parsed = None
        return [] if isinstance(parsed, dict) else [f"needs a JSON object in the key {DOCKER_CONFIG_KEY!r}"]
    return []


def docker_config_json(
    data: Mapping[str, Secret], registry: str, username_key: str, password_key: str, email_key: str | None
) -> dict[str, Secret]:
    """`.dockerconfigjson` built from registry credentials, as `kubectl create secret docker-registry` builds it:
    {"auths": {server: {"username", "password", "email" (when given), "auth": base64("username:password")}}}.
    Raises ValueError naming the missing key (never a value)."""
    wanted = [username_key, password_key] + ([email_key] if email_key else [])
    missing = [key for key in wanted if key not in data]
    if missing:
        raise ValueError(
            f"a {DOCKER_CONFIG_JSON} Secret for registry {registry!r} is built from the keys "
            f"{', '.join(repr(k) for k in wanted)}, and the source has no key {missing[0]!r}"
        )
    username, password = data[username_key].reveal(), data[password_key].reveal()
    entry = {"username": username, "password": password}
    if email_key:
        entry["email"] = data[email_key].reveal()
    entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
    # Compact and key-ordered: the same credentials always give the same text, so a plan shows no false drift.
    return {DOCKER_CONFIG_KEY: Secret(json.dumps({"auths": {registry: entry}}, separators=(",", ":")))}
