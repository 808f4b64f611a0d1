"""Hypothesis strategies shared by the fairness property tests (record routing teams and booking pools): a
team of 2 to 6 members with weights 1 to 4, each away up to twice (hour offset, hours away), a run of steps
between events, and the reset period."""

from __future__ import annotations

from hypothesis import strategies as st

WEIGHTS = st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=6)
AWAY_SPANS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=20 * 24), st.integers(min_value=1, max_value=5 * 24)),
    max_size=2,
)
ABSENCES = st.lists(AWAY_SPANS, min_size=6, max_size=6)
STEPS = st.lists(st.integers(min_value=1, max_value=9), min_size=20, max_size=150)
RESETS = st.sampled_from(["day", "week", "month"])
