"""Garbage-collector settings for Baton's processes.

Routing allocates many short-lived objects per record (messages, contexts, logs). With Python's default
thresholds (700, 10, 10) a worker ran about 150 young collections per 1,000 records, each walking the
surviving objects, which cost about 40% of a batch job's CPU (``bench/salesforce.py``). A larger young
generation collects as often as needed for memory yet rarely enough not to matter; objects alive after
start-up (modules, config, indexes) are frozen out of later collections.
"""

from __future__ import annotations

import gc

OLDER_THRESHOLDS = (50, 100)
PYTHON_DEFAULT = (700, 10, 10)


def tune_gc(gen0_threshold: int) -> tuple[int, int, int]:
    """Sets the thresholds (0 keeps Python's defaults) and freezes what is alive now; returns the thresholds."""
    thresholds = (gen0_threshold, *OLDER_THRESHOLDS) if gen0_threshold else PYTHON_DEFAULT
    gc.set_threshold(*thresholds)
    gc.freeze()
    return thresholds
