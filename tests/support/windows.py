"""Open integrity windows (issue 19), each pinned by a race test that is expected to fail until it closes.

A window test runs its whole scenario, then checks the promise with ``assert_window_closed``. While the
window is open that raises ``WindowOpen`` and the ``open_window`` marker turns it into an expected failure;
a failure of any other kind (setup, a fixture, an unrelated assertion) is a real failure, because the marker
only expects ``WindowOpen``. The marker is strict: the moment the window closes the test passes, the suite
goes red, and whoever closed it removes the marker.
"""

from __future__ import annotations

import pytest


class WindowOpen(AssertionError):
    """The scenario reached its end and the promise the window names was broken."""


def open_window(window: str) -> pytest.MarkDecorator:
    """Marks a race test whose window is still open: expected to fail, strictly, with ``WindowOpen`` only."""
    return pytest.mark.xfail(strict=True, raises=WindowOpen, reason=f"open window: {window}")


def assert_window_closed(promise_kept: bool, window: str, evidence: object) -> None:
    """The last check of a window test: raises ``WindowOpen`` naming the window and what was seen."""
    if not promise_kept:
        raise WindowOpen(f"{window}: {evidence}")
