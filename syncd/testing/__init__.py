"""Test doubles for syncd and for third-party connector authors.

`MemorySource` and `MemorySink` are working connectors with no backend;
`RecordingSink` and `FailingSink` wrap any sink to record its calls or make
them fail. The source and sink contract suites live in `syncd.testing.contract`, which
imports pytest and so is not imported here.
"""

import sys

from syncd.testing.failing import FailingSink
from syncd.testing.memory import MemorySink, MemorySource
from syncd.testing.recording import Call, DelegatingSink, RecordingSink

__all__ = [
    "Call",
    "DelegatingSink",
    "FailingSink",
    "MemorySink",
    "MemorySource",
    "RecordingSink",
]

# Under pytest, have the contract's plain asserts rewritten so that failures
# show their operands. pytest is only looked up, never imported, from here.
if "pytest" in sys.modules:
    sys.modules["pytest"].register_assert_rewrite("syncd.testing.contract")
