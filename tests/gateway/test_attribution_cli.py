"""The progress bar of ``ga4gw attribution run``: redrawn in place on a terminal, one line per step elsewhere."""

from __future__ import annotations

import io
import re
import time

from gateway.cli.attribution import ProgressBar


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_redrawn_during_a_long_step() -> None:
    out = Terminal()
    bar = ProgressBar(out, tick=0.01)
    bar("journeys", 0, 2)
    deadline = time.monotonic() + 30
    while out.getvalue().count("\r\033[K") < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    bar("linear", 1, 2)
    bar("done", 2, 2)
    bar.close()
    text = out.getvalue()
    assert text.count("\r\033[K") >= 5  # the step lines plus redraws of the long "journeys" step
    assert text.count("\n") == 1
    assert re.search(r"\r\033\[K\[#{30}\] 2/2 done \(\d+\.\ds\)\n$", text)
    assert "[" + "#" * 15 + "." * 15 + "] 1/2 linear" in text


def test_elsewhere_one_line_per_step() -> None:
    out = io.StringIO()
    bar = ProgressBar(out)
    for step, done in (("journeys", 0), ("linear", 1), ("done", 2)):
        bar(step, done, 2)
    bar.close()
    lines = out.getvalue().splitlines()
    assert [line.split("] ")[1].rsplit(" (", 1)[0] for line in lines] == ["0/2 journeys", "1/2 linear", "2/2 done"]
