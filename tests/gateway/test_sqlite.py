"""The local store's connections: several opening one new file at once must all get it in WAL mode."""

from __future__ import annotations

import threading
from pathlib import Path

from gateway.ga4.ledger import Ledger


def test_connections_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    for i in range(40):  # without the retry this collided in about one round in ten
        path = tmp_path / f"ledger{i}.sqlite3"

        def open_it(path: Path = path) -> None:
            try:
                Ledger(path).close()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
