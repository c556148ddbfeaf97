"""Thread priorities: background work yields the core to the requests people are waiting for.

The pipeline, the GA4 relay and the engine's own threads run at a lower priority than the event loop
that answers clicks; Linux gives every thread its own nice value.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["NICE", "deprioritize_this_thread"]

NICE = 10


def deprioritize_this_thread() -> None:
    """Background work can wait a few milliseconds; answering people cannot (Linux: a thread has its own nice)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
