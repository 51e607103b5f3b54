"""`HOST:PORT` as people write a listen address, on the command line and in the manifest."""

from __future__ import annotations

import ipaddress


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every IPv4 address) as (host, port); ValueError in one sentence."""
    problem = ValueError(f"the listen address {text!r} is not HOST:PORT (e.g. 127.0.0.1:9180, [::1]:9180 or :9180)")
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise problem
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])), int(port_text)
        except ValueError:
            raise problem from None
    # A bare IPv6 address is refused: without brackets its last group cannot be told from the port.
    if any(c in host for c in ":[]") or any(c.isspace() for c in host):
        raise problem
    return host or "0.0.0.0", int(port_text)


def show_address(host: str, port: int) -> str:
    """(host, port) written back as `parse_listen` reads it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
