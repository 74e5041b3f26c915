"""Name history: snapshots see the bindings of their time, whatever is bound later."""
from qlint.semantics.name_history import NameHistory


def test_snapshots_read_their_own_time():
    names = NameHistory({"a": 1})
    first = names.snapshot()
    names.set("a", 2)
    names.set("b", 3)
    second = names.snapshot()
    names.set("b", None)
    assert dict(first) == {"a": 1} and dict(second) == {"a": 2, "b": 3} and dict(names.snapshot()) == {"a": 2}
    assert "b" in second and "b" not in names and second.get("c") is None


def test_restore_undoes_what_changed_since_a_snapshot():
    names = NameHistory({"a": 1})
    before = names.snapshot()
    names.set("a", 5)
    names.set("z", 9)
    names.restore(before)
    assert dict(names.snapshot()) == {"a": 1} and names.changed_since(before.clock) == {"a", "z"}
