"""analysis.collections_paused: no cycle collection during a check, and no cycles kept forever."""
from __future__ import annotations

import gc
import weakref

from qlint.pipeline import analysis
from qlint.pipeline.analysis import collections_paused


class _Node:
    pass


def _cycle_made_in_a_block() -> weakref.ref:
    with collections_paused():
        assert not gc.isenabled()
        node = _Node()
        node.me = node
        ref = weakref.ref(node)
        del node
    return ref


def test_what_a_block_made_stays_frozen_while_little_is_frozen(monkeypatch):
    ref = _cycle_made_in_a_block()
    gc.collect()  # frozen objects are out of the collector's reach
    assert ref() is not None
    monkeypatch.setattr(analysis, "FROZEN_LIMIT", 10**12)
    with collections_paused():
        assert ref() is not None  # one check's leftovers: not worth a full collection


def test_a_block_collects_earlier_cycles_once_too_much_is_frozen(monkeypatch):
    ref = _cycle_made_in_a_block()
    assert ref() is not None
    monkeypatch.setattr(analysis, "FROZEN_LIMIT", gc.get_freeze_count() - 1)
    with collections_paused():
        assert ref() is None
    assert gc.isenabled()
