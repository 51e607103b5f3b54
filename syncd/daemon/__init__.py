"""The daemon: `syncd run`."""
