"""Documents a person wrote (YAML and JSON), parsed without ever quoting them.

A problem is a `DocumentError`: a line, a column and one sentence from this
package's fixed vocabulary. The parsers' own messages are never shown, since
they can quote the document (PyYAML's "found undefined alias 'x'" holds the
text after a `*`, which may be a password).

YAML is built from the parser's events in one loop, without recursion
(`yaml_loader`, `yaml_events`): anchors, aliases and tags other than YAML's
standard ones are refused at the first one, before anything is expanded;
nesting deeper than `max_depth` is refused, or, with `mark_deep`, the deep
part stands as a `TooDeep` value so the rest still reads; a key given twice
in one mapping is refused. With `mark_deep`, a node holding something refused
stands as a `BadPart` instead of failing the document. What is nested past
libyaml's own limit of 1,000 levels is set apart by `yaml_depth`.

JSON is parsed by the standard library after a linear scan that refuses
nesting deeper than `max_depth` (its decoder recurses) and duplicate keys
(`json_loader`).
"""

from syncd.documents.errors import DUPLICATE_KEY, MAX_DEPTH, DocumentError, Kind, Path, too_deep
from syncd.documents.json_loader import load_json
from syncd.documents.yaml_depth import MAX_DEEP_BLOCK_PARTS, TOO_MANY_DEEP_PARTS
from syncd.documents.yaml_events import (
    ALIAS,
    KEY_NOT_SCALAR,
    KEY_NOT_TEXT,
    LIBYAML_DEPTH,
    MERGE,
    SEVERAL_DOCUMENTS,
    TAG,
    UNREADABLE,
    BadPart,
    Recorder,
    RefusedKey,
    TooDeep,
)
from syncd.documents.yaml_loader import load_yaml

__all__ = [
    "ALIAS",
    "DUPLICATE_KEY",
    "KEY_NOT_SCALAR",
    "KEY_NOT_TEXT",
    "LIBYAML_DEPTH",
    "MAX_DEEP_BLOCK_PARTS",
    "MAX_DEPTH",
    "MERGE",
    "SEVERAL_DOCUMENTS",
    "TAG",
    "TOO_MANY_DEEP_PARTS",
    "UNREADABLE",
    "BadPart",
    "DocumentError",
    "Kind",
    "Path",
    "Recorder",
    "RefusedKey",
    "TooDeep",
    "load_json",
    "load_yaml",
    "too_deep",
]
