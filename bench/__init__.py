"""syncd's benchmarks: `python -m bench` runs every installed connector's scenario (see bench/README.md).

`bench/manifest.py` and `bench/startup.py` are separate scripts: they measure the manifest loader and the
command line's start, not a connector.
"""
