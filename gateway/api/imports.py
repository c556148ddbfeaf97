"""Importing past events (``ga4gw import events FILE``, ``POST /v1/events/import``): a year of orders and sessions.

Each line is an event as ``/v1/events`` takes it, checked by the very same code (``ingest.check_event``) and turned
into the same warehouse row (``ingest.server_row``: emails and user ids become their keyed pseudonyms, none reaches
the warehouse raw), with three differences:

- ``time`` is required (a past event must say when it happened), and any time from 2000 to a minute ahead is kept.
- The row's source is ``import``: imported events are for attribution and the warehouse, never relayed to GA4 (a
  year of history would all dead-letter as expired; the relay skips them as ``imported``). They do not go through
  the outbox: they are written to the warehouse directly, with the identity edges they prove.
- Event ids: ``import-<event_id>`` when the line has one, else derived from the event itself (a hash of its
  canonical JSON), so importing the same file again, or the same events as CSV, stores no duplicate.

All or nothing per file: every line is checked (and its row spooled to a temporary file) before anything is
written; one bad line refuses the whole file, each bad line reported by its number and field (``line 12.time``),
and nothing is stored. Should the writing itself be cut short (a crash, the warehouse gone), importing the same file
again completes it: its rows keep their ids and form the same insert blocks, which the warehouse drops as repeats.

Formats: NDJSON (one JSON object a line) or CSV with a header, whose columns are the event's fields; nested ones
are dotted (``traffic.source``, ``consent.ad_user_data``, ``params.transaction_id``), ``params.value`` is read as
a number and ``params.items`` as JSON; an empty cell is an absent field. Checking runs in worker processes (one
per core) on chunks of lines, so a million events take well under a minute (``benchmarks/bench_import.py``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.state.identity_link import edges_of
from identity import Edge, EdgeStore, Pseudonymizer
from warehouse import EventWriter, Warehouse

from .ingest import check_event, server_row

__all__ = ["FORMATS", "ImportResult", "format_of", "import_events"]

FORMATS = ("ndjson", "csv")
SOURCE = "import"
_CHUNK_LINES = 10_000
_WRITE_ROWS = 100_000  # rows per insert: the same file always cuts the same blocks (the dedup tokens)
_MAX_REPORTED = 100  # bad lines named in the answer; all are counted
_PARALLEL_BYTES = 4 * 1024 * 1024  # smaller files are checked in this process: starting workers costs more
_AMOUNTS = frozenset({"params.value"})
_WORKERS = min(os.cpu_count() or 1, 4)

Progress = Callable[[str, int, int], None]  # (step, done, total): bytes while checking, rows while writing


@dataclass
class ImportResult:
    """What an import did: lines read, events stored, identity edges, and the bad lines (none when stored)."""

    lines: int = 0
    stored: int = 0
    edges: int = 0
    bad_lines: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    personal_data: Counter[str] = field(default_factory=Counter)
    new_edges: list[Edge] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"lines": self.lines, "stored": self.stored, "edges": self.edges, "bad_lines": self.bad_lines,
                "errors": self.errors}  # fmt: skip


def format_of(name: str) -> str:
    """The format a file's name says (``.csv``: CSV; otherwise NDJSON)."""
    return "csv" if name.lower().endswith(".csv") else "ndjson"


def _csv_event(row: dict[str, str | None]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell == "":
            continue
        value: Any = cell
        if column in _AMOUNTS:
            try:
                value = float(cell) if any(c in cell for c in ".eE") else int(cell)
            except ValueError:
                value = cell  # the check names it
        elif column == "params.items":
            try:
                value = json.loads(cell)
            except ValueError:
                value = cell
        head, dot, rest = column.partition(".")
        if dot:
            block = event.setdefault(head, {})
            if isinstance(block, dict):
                block[rest] = value
        else:
            event[column] = value
    return event


def _records(stream: io.TextIOBase, fmt: str) -> Iterator[tuple[int, str | dict[str, Any], int]]:
    """(line number, the line's text or CSV row, its length) for each non-empty line; a CSV row is numbered by its
    first line. The length (in characters, about the bytes) drives the progress bar."""
    if fmt == "csv":
        reader = csv.DictReader(stream)
        start = reader.line_num
        for row in reader:
            if any(row.values()):
                yield start + 1, _csv_event(row), sum(len(v or "") + 1 for v in row.values())
            start = reader.line_num
        return
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, line, len(line)


# The worker's pseudonymizer, built once per process from the keys the parent hands over (never from a file).
_WORKER: dict[str, Pseudonymizer] = {}


def _start_worker(keys: Sequence[tuple[str, str]]) -> None:
    _WORKER["p"] = Pseudonymizer(keys)


def _derived_id(event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "h" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _check_chunk(records: _Chunk, now: float, pseudonymizer: Pseudonymizer | None = None) -> _Checked:
    """Check a chunk: its errors, how many lines were bad, the spool lines of its rows, its edges, the PII found."""
    p = pseudonymizer or _WORKER["p"]
    errors: dict[str, str] = {}
    bad = 0
    spooled: list[str] = []
    edges: list[Edge] = []
    found: Counter[str] = Counter()
    for number, record in records:
        path = f"line {number}"
        mine: dict[str, str] = {}
        event: Any = record
        if isinstance(record, str):
            try:
                event = json.loads(record)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                mine[path] = f"not a JSON object: {exc}"
        if not mine:
            if isinstance(event, dict) and event.get("time") is None:
                mine[f"{path}.time"] = "an imported event needs its time (ISO 8601 or epoch seconds)"
            checked = check_event(event, path, mine, now)
            if checked is not None and not mine:
                event, at = checked
                if not event.get("event_id"):
                    event = {**event, "event_id": _derived_id(event)}
                row = server_row(event, at, p, SOURCE, now, found)
                spooled.append(f"{row.event_id}\t{row.to_json()}\n")
                edges.extend(edges_of(row, p))
        if mine:
            bad += 1
            errors.update(mine)
    return errors, bad, spooled, edges, found


_Chunk = list[tuple[int, str | dict[str, Any]]]
_Checked = tuple[dict[str, str], int, list[str], list[Edge], Counter[str]]


def _chunks(records: Iterator[tuple[int, str | dict[str, Any], int]]) -> Iterator[tuple[_Chunk, int]]:
    """Chunks of ``_CHUNK_LINES`` records, each with the characters it took."""
    chunk: _Chunk = []
    chars = 0
    for number, record, length in records:
        chunk.append((number, record))
        chars += length
        if len(chunk) >= _CHUNK_LINES:
            yield chunk, chars
            chunk, chars = [], 0
    if chunk:
        yield chunk, chars


def _checked(
    path: Path, fmt: str, keys: Sequence[tuple[str, str]], now: float, workers: int
) -> Iterator[tuple[_Checked, int]]:
    """The checked chunks of a file, in order, with the characters each took; in worker processes when the file
    is large enough to pay for starting them."""
    with path.open("r", encoding="utf-8", newline="" if fmt == "csv" else None, errors="surrogateescape") as stream:
        chunks = _chunks(_records(stream, fmt))
        if workers <= 1 or path.stat().st_size < _PARALLEL_BYTES:
            local = Pseudonymizer(keys)
            for chunk, chars in chunks:
                yield _check_chunk(chunk, now, local), chars
            return
        # spawn, not fork: the parent may hold the embedded engine's threads (the gateway, a test)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(keys,)) as pool:
            pending: list[tuple[Future[_Checked], int]] = []
            for chunk, chars in chunks:
                pending.append((pool.submit(_check_chunk, chunk, now), chars))
                if len(pending) > 2 * workers:  # bounded: the file is never all in memory
                    future, done = pending.pop(0)
                    yield future.result(), done
            for future, done in pending:
                yield future.result(), done


def import_events(
    path: Path,
    fmt: str,
    wh: Callable[[], Warehouse],
    keys: Sequence[tuple[str, str]],
    *,
    spool_dir: Path | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    now: float | None = None,
) -> ImportResult:
    """Check every line of ``path``; when all are good, write their rows and identity edges to the warehouse.

    ``wh`` opens the warehouse (only called when there is something to write); ``keys`` are the pseudonym keyring's.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    report = progress or (lambda step, done, total: None)
    now = time.time() if now is None else now
    size = max(path.stat().st_size, 1)
    result = ImportResult()
    pairs: dict[tuple[Any, Any, str], Edge] = {}  # the earliest of each pair: a person's events repeat the same edge
    with tempfile.NamedTemporaryFile("w+", encoding="utf-8", dir=spool_dir, prefix="import-", suffix=".spool") as spool:
        read = 0
        for (errors, bad, spooled, edges, found), chars in _checked(path, fmt, keys, now, workers or _WORKERS):
            result.bad_lines += bad
            for where, message in errors.items():
                if len(result.errors) < _MAX_REPORTED:
                    result.errors[where] = message
            result.lines += len(spooled) + bad
            result.personal_data.update(found)
            if not result.bad_lines:
                spool.writelines(spooled)
                for edge in edges:
                    pair = (edge.a, edge.b, edge.source)
                    if pair not in pairs or edge.at < pairs[pair].at:
                        pairs[pair] = edge
            read = min(size, read + chars)
            report("checking", read, size)
        if result.bad_lines or not result.lines:
            return result
        spool.flush()
        spool.seek(0)
        target = wh()
        writer = EventWriter(target, batch_rows=_WRITE_ROWS)
        batch: list[tuple[str, str]] = []
        for line in spool:
            event_id, _, payload = line.rstrip("\n").partition("\t")
            batch.append((event_id, payload))
            if len(batch) >= _WRITE_ROWS:
                result.stored += writer.write_json(batch)
                batch = []
                report("writing", result.stored, result.lines)
        if batch:
            result.stored += writer.write_json(batch)
        result.new_edges = list(pairs.values())
        EdgeStore(target).append(result.new_edges)
        result.edges = len(result.new_edges)
        report("done", result.stored, result.lines)
    return result
