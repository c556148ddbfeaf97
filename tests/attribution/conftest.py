"""Attribution tests get a fresh, migrated database on the real embedded engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse import Warehouse

from .data import fresh_warehouse


@pytest.fixture
def warehouse(chdb_dir: Path) -> Iterator[Warehouse]:
    with fresh_warehouse(chdb_dir) as wh:
        yield wh
