"""The analyst interface's own threads: bounded slots and wait, chunks handed over, cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from gateway.api.sql_workers import PoolFull, QueryPool, QueryRun


def _blocked(release: threading.Event, started: threading.Event) -> Iterator[bytes]:
    started.set()
    while not release.wait(0.05):
        pass
    yield b"late"


async def _drain(run: QueryRun) -> list[bytes]:
    chunks = []
    while (chunk := await run.next()) is not None:
        chunks.append(chunk)
    return chunks


def test_chunks_arrive_in_order_with_a_small_buffer() -> None:
    async def main() -> list[bytes]:
        pool = QueryPool(1, 0)
        pool.start()
        produced: list[int] = []

        def produce() -> Iterator[bytes]:
            for number in range(100):
                produced.append(number)
                yield str(number).encode()

        run = QueryRun(produce, lambda: None, max_wait=30)
        pool.submit(run)
        first = await run.next()
        await asyncio.sleep(0.2)
        assert len(produced) < 20  # the worker waits for the reader instead of piling up the output
        rest = await _drain(run)
        pool.stop()
        return [first or b"", *rest]

    assert asyncio.run(main()) == [str(n).encode() for n in range(100)]


def test_a_full_pool_turns_queries_away_and_frees_slots_when_they_end() -> None:
    async def main() -> None:
        pool = QueryPool(1, 1)
        pool.start()
        release, started = threading.Event(), threading.Event()
        running = QueryRun(lambda: _blocked(release, started), lambda: None, max_wait=30)
        waiting = QueryRun(lambda: iter([b"queued"]), lambda: None, max_wait=30)
        pool.submit(running)
        pool.submit(waiting)
        with pytest.raises(PoolFull):
            pool.submit(QueryRun(lambda: iter([b"x"]), lambda: None, max_wait=30))
        release.set()
        assert await _drain(running) == [b"late"]
        assert await _drain(waiting) == [b"queued"]
        assert waiting.finished.wait(5)
        again = QueryRun(lambda: iter([b"again"]), lambda: None, max_wait=30)
        pool.submit(again)
        assert await _drain(again) == [b"again"]
        pool.stop()

    asyncio.run(main())


def test_errors_reach_the_reader() -> None:
    def failing() -> Iterator[bytes]:
        yield b"one"
        raise ValueError("engine said no")

    async def main() -> None:
        pool = QueryPool(1, 0)
        pool.start()
        run = QueryRun(failing, lambda: None, max_wait=30)
        pool.submit(run)
        assert await run.next() == b"one"
        with pytest.raises(ValueError, match="engine said no"):
            await run.next()
        pool.stop()

    asyncio.run(main())


def test_cancel_kills_a_query_stuck_before_its_first_chunk_and_stop_ends_everything() -> None:
    release, started = threading.Event(), threading.Event()
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        release.set()  # what the engine does to a killed query: it returns

    async def main() -> None:
        pool = QueryPool(1, 1)
        pool.start()
        stuck = QueryRun(lambda: _blocked(release, started), kill, max_wait=30)
        queued = QueryRun(lambda: iter([b"never"]), lambda: None, max_wait=30)
        pool.submit(stuck)
        pool.submit(queued)
        assert await asyncio.to_thread(started.wait, 5)
        stuck.cancel()
        assert await asyncio.to_thread(killed.wait, 5)
        assert await asyncio.to_thread(stuck.finished.wait, 5)
        queued.cancel()
        await asyncio.to_thread(pool.stop)
        assert queued.finished.is_set()

    asyncio.run(main())
