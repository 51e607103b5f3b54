"""syncd keeps secrets in many places equal to one source of truth."""

__version__ = "0.1.0"
