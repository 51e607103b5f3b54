"""The PATCH bodies the fake Kubernetes API server applies: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and
strategic merge patch as it works on Secrets and Leases.

Secrets and Leases have no list fields with a merge strategy outside metadata, so a strategic merge patch on them is a
merge patch that also honours the `$patch: replace|delete` directive on maps (k8s.io/apimachinery/pkg/util/
strategicpatch). Server-side apply (application/apply-patch+yaml) is not served: 415, as a server without it answers.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.fakes.kube_status import StatusError, bad_request, unsupported_media_type

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]


def apply_patch(content_type: str, document: dict[str, Any], patch_bytes: bytes) -> dict[str, Any]:
    """`document` with the patch applied (a new object); raise StatusError as the apiserver's patch handler does."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in PATCH_TYPES:
        raise unsupported_media_type(media_type, PATCH_TYPES)
    try:
        patch = json.loads(patch_bytes or b"null")
    except ValueError as error:
        raise bad_request(f"error decoding patch: {error}") from None
    if media_type == JSON_PATCH:
        return _json_patch(document, patch)
    if not isinstance(patch, dict):
        raise bad_request("patch body must be a JSON object")  # a non-object merge patch would replace the object
    if media_type == MERGE_PATCH:
        return merge_patch(document, patch)
    return _strategic_merge(document, patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strategic_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {key: copy.deepcopy(value) for key, value in patch.items() if key != "$patch"}
    if directive is not None:
        raise bad_request(f"Unknown patch type: {directive} in map: {patch}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            raise bad_request(f"unknown strategic merge patch directive {key}")
        if value is None:
            result.pop(key, None)
            continue
        merged = _strategic_merge(result.get(key), value)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    return result


class _PatchFailed(Exception):
    pass


def _json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result: Any = copy.deepcopy(document)
    try:
        for operation in operations:
            result = _apply_operation(result, operation)
    except _PatchFailed as error:
        # The apiserver answers a patch that cannot apply with 422 and the library's message
        # (k8s.io/apiserver/pkg/endpoints/handlers/patch.go, jsonPatcher.applyJSPatch).
        raise StatusError(422, "Invalid", str(error)) from None
    return result


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _PatchFailed(f"jsonpatch: invalid path {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]] if path else []


def _parent(document: Any, parts: list[str], path: str) -> Any:
    node = document
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _PatchFailed(f"doc is missing path: {path}: missing value")
    return node


def _get(document: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return document
    parent = _parent(document, parts, path)
    key = parts[-1]
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise _PatchFailed(f"doc is missing path: {path}: missing value")


def _remove(document: Any, path: str) -> Any:
    parts = _pointer(path)
    parent = _parent(document, parts, path)
    key = parts[-1] if parts else ""
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent.pop(int(key))
    raise _PatchFailed(f"doc is missing path: {path}: missing value")


def _add(document: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(document, parts, path)
    key = parts[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list) and (key == "-" or (key.isdigit() and int(key) <= len(parent))):
        parent.insert(len(parent) if key == "-" else int(key), value)
    else:
        raise _PatchFailed(f"doc is missing path: {path}: missing value")
    return document


def _apply_operation(document: Any, operation: dict[str, Any]) -> Any:
    op = operation.get("op")
    path = operation.get("path")
    if op in ("add", "replace", "test") and "value" not in operation:
        raise _PatchFailed(f"missing value for {op} operation")
    value = copy.deepcopy(operation.get("value"))
    if op == "add":
        return _add(document, path, value)
    if op == "remove":
        _remove(document, path)
        return document
    if op == "replace":
        if not _pointer(path):
            return value
        _get(document, path)  # replace needs the target to exist
        _remove(document, path)
        return _add(document, path, value)
    if op == "test":
        if _get(document, path) != value:
            raise _PatchFailed(f"testing value {path} failed: test failed")
        return document
    if op in ("move", "copy"):
        source = operation.get("from")
        moved = copy.deepcopy(_get(document, source))
        if op == "move":
            _remove(document, source)
        return _add(document, path, moved)
    raise _PatchFailed(f"Unexpected kind: {op}")
