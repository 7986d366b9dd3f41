"""Jobs for the worker-pool tests: well-behaved, allocating without bound, hanging, crashing, raising, oversized.

They run inside the pool's worker processes, which import them by module name (this directory
is on ``sys.path`` under pytest).
"""

from __future__ import annotations

import os
import signal
import time


def job(kind: str):
    """Behave as ``kind`` says; anything else is echoed back in upper case."""
    if kind == "allocate":  # without bound, touching every page
        chunks = []
        while True:
            chunks.append(bytearray(16 << 20))
    if kind == "hang":
        time.sleep(3600)
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "raise":
        raise ValueError("a bug met on this document")
    if kind == "oversized":
        return "x" * (8 << 20)
    return kind.upper()


def limits_seen(_):
    """The limits a worker's code sees in its environment."""
    return os.environ.get("XXGK_DOC_TIMEOUT"), os.environ.get("XXGK_DOC_MEMORY")
