"""Baton's processes collect garbage less often than Python's default (BATON_GC_GEN0_THRESHOLD)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from baton.gc_tuning import PYTHON_DEFAULT, tune_gc
from baton.settings import Settings


@pytest.fixture
def restored_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_setting_sets_the_young_generation_threshold_and_zero_keeps_pythons(restored_thresholds: None) -> None:
    assert tune_gc(Settings(gc_gen0_threshold=20_000).gc_gen0_threshold) == gc.get_threshold()
    assert gc.get_threshold()[0] == 20_000
    assert tune_gc(Settings(gc_gen0_threshold=0).gc_gen0_threshold) == gc.get_threshold() == PYTHON_DEFAULT
    assert Settings().gc_gen0_threshold == 50_000
