"""The run file: how the CLI finds the gateway that owns a data directory.

``ga4gw serve`` writes ``<data_dir>/run/gateway.json`` (pid and URL) once it listens
and removes it when it stops. The embedded warehouse has one owner, so ``ga4gw sql``
and a second ``ga4gw serve`` read this file first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunInfo", "clear", "read", "write"]


@dataclass(frozen=True)
class RunInfo:
    pid: int
    url: str

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _path(data_dir: Path) -> Path:
    return data_dir / "run" / "gateway.json"


def write(data_dir: Path, url: str) -> None:
    path = _path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    tmp.replace(path)


def read(data_dir: Path) -> RunInfo | None:
    """The gateway that owns ``data_dir`` if its process is alive; a stale file is removed."""
    path = _path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = RunInfo(pid=int(data["pid"]), url=str(data["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.alive and info.pid != os.getpid():
        return info
    path.unlink(missing_ok=True)
    return None


def clear(data_dir: Path) -> None:
    """Remove the run file if this process wrote it."""
    path = _path(data_dir)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
