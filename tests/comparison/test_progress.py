"""The progress line: only on a terminal, only once a run has taken a second."""

from __future__ import annotations

import io

from comparison.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_standard_error_is_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream, delay=0.0)
    progress("sweep 1/11")
    progress.done()
    assert stream.getvalue() == ""


def test_quiet_during_the_first_second_then_one_rewritten_line() -> None:
    early, late = Terminal(), Terminal()
    Progress(early, delay=3600.0)("sweep 1/11")
    assert early.getvalue() == ""
    progress = Progress(late, delay=0.0)
    progress("sweep 1/11")
    progress("sweep 2/11")
    progress.done()
    assert late.getvalue().count("\r") == 3
    assert "compare: sweep 2/11" in late.getvalue()
    assert late.getvalue().endswith("\r\x1b[K")
