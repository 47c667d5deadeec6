"""Ports after a restart: who holds one now, and a variant moved off a port someone took."""

from __future__ import annotations

import contextlib
import dataclasses
import socket

import psutil

from ml.backends.local import procs
from ml.backends.local.records import Instance, Variant

PORT_ENV = "SAGEMAKER_BIND_TO_PORT"


def free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def holder(port: int) -> str:
    """'' when ``port`` is free on loopback; else who listens there (program and pid, when visible)."""
    if free(port):
        return ""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                proc = psutil.Process(conn.pid)
                return f"{proc.name()} (pid {conn.pid}: {' '.join(proc.cmdline())[:120]})"
    return "another program (its owner is not visible to this user)"


def moved(variant: Variant) -> Variant:
    """The variant with each instance on its recorded port if free, else on a new one (internal: the URL stays)."""
    return dataclasses.replace(variant, instances=tuple(_moved(inst) for inst in variant.instances))


def _moved(inst: Instance) -> Instance:
    if free(inst.port):
        return inst
    port = procs.free_port()
    return dataclasses.replace(inst, port=port, env={**inst.env, PORT_ENV: str(port)})
