"""The audit log: one JSON line per applied change, never a value."""
