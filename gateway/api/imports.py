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
import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.json_values import json_problem
from gateway.state.identity_link import edges_of
from identity import Edge, EdgeStore, Pseudonymizer
from warehouse import EventWriter, Warehouse

from .ingest import check_event, server_row

__all__ = ["FORMATS", "ImportResult", "format_of", "import_events"]

FORMATS = ("ndjson", "csv")
SOURCE = "import"
_CHUNK_LINES = 10_000
_READ_BYTES = 16 * 1024 * 1024
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


_Record = tuple[int, "str | bytes | dict[str, Any]"]


@dataclass(frozen=True)
class _Part:
    """A piece of the file for one worker: NDJSON as a byte range the worker reads itself (the parent only finds
    the line ends), CSV as rows the parent parsed (a quoted cell may span lines, so bytes cannot be cut blindly)."""

    first_line: int
    start: int = 0
    end: int = 0
    records: list[tuple[int, dict[str, Any]]] | None = None


@dataclass
class _Checked:
    """A checked part: its problems, counts, the spool file of its rows (when all were good), edges, PII found."""

    errors: dict[str, str]
    bad: int
    good: int
    rows: Path | None
    edges: list[Edge]
    found: Counter[str]


def _ndjson_parts(path: Path) -> Iterator[tuple[_Part, int]]:
    """Byte ranges of ``_CHUNK_LINES`` lines each with their first line's number, and their sizes."""
    with path.open("rb") as stream:
        offset = part_start = lines = 0
        first_line = 1
        while block := stream.read(_READ_BYTES):
            pos = 0
            while True:
                need = _CHUNK_LINES - lines
                if block.count(b"\n", pos) < need:
                    lines += block.count(b"\n", pos)
                    break
                for _ in range(need):
                    pos = block.index(b"\n", pos) + 1
                end = offset + pos
                yield _Part(first_line, part_start, end), end - part_start
                first_line, part_start, lines = first_line + _CHUNK_LINES, end, 0
            offset += len(block)
        if part_start < offset:
            yield _Part(first_line, part_start, offset), offset - part_start


def _csv_parts(path: Path) -> Iterator[tuple[_Part, int]]:
    """CSV rows in parts of ``_CHUNK_LINES``, each row numbered by its first line, with the parts' sizes."""
    with path.open("r", encoding="utf-8", newline="", errors="surrogateescape") as stream:
        reader = csv.DictReader(stream)
        start = reader.line_num
        records: list[tuple[int, dict[str, Any]]] = []
        size = 0
        for row in reader:
            if any(row.values()):
                records.append((start + 1, _csv_event(row)))
                size += sum(len(v or "") + 1 for v in row.values() if isinstance(v, str))
            start = reader.line_num
            if len(records) >= _CHUNK_LINES:
                yield _Part(records[0][0], records=records), size
                records, size = [], 0
        if records:
            yield _Part(records[0][0], records=records), size


def _ndjson_records(path: Path, part: _Part) -> Iterator[_Record]:
    with path.open("rb") as stream:
        stream.seek(part.start)
        data = stream.read(part.end - part.start)
    for number, line in enumerate(data.split(b"\n"), part.first_line):
        if line.strip():
            yield number, line


# The worker's pseudonymizer, built once per process from the keys the parent hands over (never from a file).
_WORKER: dict[str, Pseudonymizer] = {}


def _start_worker(keys: Sequence[tuple[str, str]]) -> None:
    _WORKER["p"] = Pseudonymizer(keys)


def _derived_id(event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "h" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _event(record: str | bytes | dict[str, Any], path: str, problems: dict[str, str]) -> Any:
    """The line's event, or None with the problem: not UTF-8, not JSON, or what no store can keep (``json_problem``)."""
    if isinstance(record, dict):
        event: Any = record
    else:
        try:
            text = record.decode() if isinstance(record, bytes) else record
            event = json.loads(text)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            problems[path] = f"not a JSON object in UTF-8: {exc}"
            return None
    problem = json_problem(event, strings=not isinstance(record, bytes) or b"\\u" in record)
    if problem is not None:
        where, what = problem
        problems[f"{path}.{where}" if where else path] = what
        return None
    return event


def _check_part(
    path: Path, part: _Part, now: float, spool_dir: Path, pseudonymizer: Pseudonymizer | None = None
) -> _Checked:
    """Check a part of the file (in a worker); when every line is good, its rows go to a spool file of its own."""
    p = pseudonymizer or _WORKER["p"]
    errors: dict[str, str] = {}
    bad = good = 0
    spooled: list[str] = []
    edges: dict[tuple[Any, Any, str], Edge] = {}  # the earliest of each pair: a person's events repeat their edges
    earliest: dict[tuple[Any, ...], datetime] = {}
    found: Counter[str] = Counter()
    records: Iterable[_Record] = part.records if part.records is not None else _ndjson_records(path, part)
    for number, record in records:
        where = f"line {number}"
        mine: dict[str, str] = {}
        event = _event(record, where, mine)
        if event is not None:
            if isinstance(event, dict) and event.get("time") is None:
                mine[f"{where}.time"] = "an imported event needs its time (ISO 8601 or epoch seconds)"
            checked = check_event(event, where, mine, now)
            if checked is not None and not mine and not bad:  # once a line is bad, only the others' problems count
                event, at = checked
                if not event.get("event_id"):
                    event = {**event, "event_id": _derived_id(event)}
                row = server_row(event, at, p, SOURCE, now, found)
                spooled.append(f"{row.event_id}\t{row.to_json()}\n")
                named = (
                    row.user_id,
                    row.params.get("email_pseudonym"),
                    row.params.get("recipient_pseudonym"),
                    row.ga_client_id,
                )  # what edges_of joins: the same names at a later time add nothing
                if named not in earliest or row.event_time < earliest[named]:
                    earliest[named] = row.event_time
                    for edge in edges_of(row, p):
                        pair = (edge.a, edge.b, edge.source)
                        if pair not in edges or edge.at < edges[pair].at:
                            edges[pair] = edge
        if mine:
            bad += 1
            errors.update(mine)
        else:
            good += 1
    if bad:
        return _Checked(errors, bad, good, None, [], found)
    rows = spool_dir / f"part-{part.first_line:012d}.rows"
    rows.write_text("".join(spooled), encoding="utf-8")
    return _Checked(errors, 0, good, rows, list(edges.values()), found)


def _checked(
    path: Path, fmt: str, keys: Sequence[tuple[str, str]], now: float, spool_dir: Path, workers: int
) -> Iterator[tuple[_Checked, int]]:
    """The checked parts of a file, in order, with their sizes; in worker processes when the file is large enough
    to pay for starting them."""
    parts = _csv_parts(path) if fmt == "csv" else _ndjson_parts(path)
    if workers <= 1 or path.stat().st_size < _PARALLEL_BYTES:
        local = Pseudonymizer(keys)
        for part, size in parts:
            yield _check_part(path, part, now, spool_dir, local), size
        return
    # spawn, not fork: the parent may hold the embedded engine's threads (the gateway, a test)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(keys,)) as pool:
        pending: list[tuple[Future[_Checked], int]] = []
        for part, size in parts:
            pending.append((pool.submit(_check_part, path, part, now, spool_dir), size))
            if len(pending) > 2 * workers:  # bounded: CSV rows in flight, results not yet taken
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
    pairs: dict[tuple[Any, Any, str], Edge] = {}  # across parts, as in ``_check_part``
    spooled: list[Path] = []
    with tempfile.TemporaryDirectory(dir=spool_dir, prefix="import-") as spool:
        read = 0
        for checked, part_size in _checked(path, fmt, keys, now, Path(spool), workers or _WORKERS):
            result.bad_lines += checked.bad
            for where, message in checked.errors.items():
                if len(result.errors) < _MAX_REPORTED:
                    result.errors[where] = message
            result.lines += checked.good + checked.bad
            result.personal_data.update(checked.found)
            if checked.rows is not None:
                spooled.append(checked.rows)
            for edge in checked.edges:
                pair = (edge.a, edge.b, edge.source)
                if pair not in pairs or edge.at < pairs[pair].at:
                    pairs[pair] = edge
            read = min(size, read + part_size)
            report("checking", read, size)
        if result.bad_lines or not result.lines:
            return result
        result.new_edges = list(pairs.values())
        _write(wh(), spooled, result, report)
        report("done", result.stored, result.lines)
    return result


def _write(target: Warehouse, spooled: list[Path], result: ImportResult, report: Progress) -> None:
    """The spooled rows in blocks of ``_WRITE_ROWS`` (cut the same way for the same file), then the edges."""
    writer = EventWriter(target, batch_rows=_WRITE_ROWS)
    batch: list[tuple[str, str]] = []
    for rows in spooled:
        with rows.open(encoding="utf-8") as stream:
            for line in stream:
                event_id, _, payload = line.rstrip("\n").partition("\t")
                batch.append((event_id, payload))
                if len(batch) >= _WRITE_ROWS:
                    result.stored += writer.write_json(batch)
                    batch = []
                    report("writing", result.stored, result.lines)
        rows.unlink()
    if batch:
        result.stored += writer.write_json(batch)
    EdgeStore(target).append(result.new_edges)
    result.edges = len(result.new_edges)
