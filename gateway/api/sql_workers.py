"""The analyst interface's own threads: a fixed number of queries at once, a bounded wait, nothing else shared.

Analyst queries can run for a minute; readiness, erasure, attribution and the edge must never
wait behind them. So they do not use anyio's default thread pool (whose 40 tokens those share)
but ``GA4GW_SQL_CONCURRENCY`` threads of their own; up to ``GA4GW_SQL_QUEUE`` more queries wait,
and a query beyond that is turned away at once (``PoolFull``, a 503).

A query's output goes from its thread to the event loop through a few chunks of buffer
(``QueryRun``): a slow reader slows the query instead of filling memory. A run that is
cancelled (the client left, the gateway stops) is killed in the engine by its tag, on a short
thread of its own, so a query stuck before its first row stops too.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator

__all__ = ["PoolFull", "QueryPool", "QueryRun"]

log = logging.getLogger(__name__)

_END = object()
_DEPTH = 4  # chunks buffered between a query's thread and its HTTP response


class PoolFull(Exception):
    """Every worker is busy and the wait queue is full."""


class QueryRun:
    """One query on its way: the worker thread puts chunks, the event loop takes them (``next``)."""

    def __init__(self, produce: Callable[[], Iterator[bytes]], kill: Callable[[], None], max_wait: float) -> None:
        self._produce = produce
        self._kill = kill
        self._max_wait = max_wait
        self._chunks: queue.Queue[object] = queue.Queue(_DEPTH)
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._cancelled = threading.Event()
        self._read_to_the_end = False
        self.finished = threading.Event()

    # -- the worker's side

    def _put(self, item: object) -> bool:
        """Hand an item to the reader; False when the run was cancelled or the reader stopped reading."""
        waited = 0.0
        while not self._cancelled.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
            except queue.Full:
                waited += 0.1
                if waited >= self._max_wait:
                    log.warning("an analyst query's client read nothing for %.0f s; stopping the query", waited)
                    self._cancelled.set()
                    return False
                continue
            self._loop.call_soon_threadsafe(self._ready.set)
            return True
        return False

    def work(self) -> None:
        """Run the query in the calling (worker) thread until it ends, fails or is cancelled."""
        try:
            if self._cancelled.is_set():
                return
            chunks = self._produce()
            try:
                for chunk in chunks:
                    if not self._put(chunk):
                        return
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            self._put(_END)
        except Exception as exc:  # the reader gets it (a QueryError as a ClickHouse error, others as a 500)
            self._put(exc)
        finally:
            self.finished.set()

    # -- the event loop's side

    async def next(self) -> bytes | None:
        """The next chunk, None at the end; raises what the query raised."""
        while True:
            try:
                item = self._chunks.get_nowait()
            except queue.Empty:
                self._ready.clear()
                if self._chunks.empty():
                    await self._ready.wait()
                continue
            if item is _END:
                self._read_to_the_end = True
                return None
            if isinstance(item, BaseException):
                self._read_to_the_end = True
                raise item
            assert isinstance(item, bytes)
            return item

    def cancel(self) -> None:
        """Stop the run: the worker stops putting, and the engine is told to kill the query."""
        if self._cancelled.is_set() or self.finished.is_set() or self._read_to_the_end:
            return
        self._cancelled.set()
        threading.Thread(target=self._kill, name="ga4gw-sql-kill", daemon=True).start()


class QueryPool:
    """``workers`` threads that run analyst queries, with room for ``waiting`` more in line."""

    def __init__(self, workers: int, waiting: int) -> None:
        self.workers = workers
        self.waiting = waiting
        self._jobs: queue.Queue[QueryRun | None] = queue.Queue()
        self._lock = threading.Lock()
        self._taken = 0
        self._runs: set[QueryRun] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.workers):
            thread = threading.Thread(target=self._serve, name=f"ga4gw-sql-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, run: QueryRun) -> None:
        """Queue a run; raises ``PoolFull`` when ``workers + waiting`` runs are already taken."""
        with self._lock:
            if self._taken >= self.workers + self.waiting or not self._threads:
                raise PoolFull(f"{self.workers} analyst queries are running and {self.waiting} waiting")
            self._taken += 1
            self._runs.add(run)
        self._jobs.put(run)

    def _serve(self) -> None:
        while (run := self._jobs.get()) is not None:
            try:
                run.work()
            finally:
                with self._lock:
                    self._taken -= 1
                    self._runs.discard(run)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel every run (queued or running) and let the threads end."""
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.cancel()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
