"""The names a code walker has bound so far, with snapshots that cost nothing to take.

The call-site walker records, for every expression, the bindings visible at that point.
Copying a dict per expression is quadratic in a settings module of thousands of names;
instead every change is appended to a per-name history stamped with a clock, and a
snapshot is the history read at one time.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Generic, Iterator, Mapping, TypeVar

V = TypeVar("V")


class NameHistory(Generic[V]):
    def __init__(self, initial: Mapping[str, V]) -> None:
        self.clock = 0
        self._times: dict[str, list[int]] = {name: [0] for name in initial}
        self._values: dict[str, list[V | None]] = {name: [value] for name, value in initial.items()}
        self._log: list[str] = []  # the name changed at each tick: _log[t - 1] at clock t

    def set(self, name: str, value: V | None) -> None:
        """Bind name to value from now on; None unbinds it."""
        self.clock += 1
        self._times.setdefault(name, []).append(self.clock)
        self._values.setdefault(name, []).append(value)
        self._log.append(name)

    def get(self, name: str, at: int | None = None) -> V | None:
        times = self._times.get(name)
        if times is None:
            return None
        index = len(times) - 1 if at is None else bisect_right(times, at) - 1
        return self._values[name][index] if index >= 0 else None

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def changed_since(self, clock: int) -> set[str]:
        return set(self._log[clock:])

    def snapshot(self) -> "NamesAt[V]":
        return NamesAt(self, self.clock)

    def restore(self, snapshot: "NamesAt[V]") -> None:
        """Bind every name changed since the snapshot back to what it was then."""
        for name in self.changed_since(snapshot.clock):
            before = snapshot.get(name)
            if self.get(name) is not before:
                self.set(name, before)


class NamesAt(Mapping[str, V]):
    """The bindings of a NameHistory as they were at one clock time (read-only)."""

    __slots__ = ("history", "clock")

    def __init__(self, history: NameHistory[V], clock: int) -> None:
        self.history = history
        self.clock = clock

    def __getitem__(self, name: str) -> V:
        value = self.history.get(name, self.clock)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: V | None = None) -> V | None:  # type: ignore[override]
        value = self.history.get(name, self.clock)
        return default if value is None else value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.history.get(name, self.clock) is not None

    def __iter__(self) -> Iterator[str]:
        return (name for name in list(self.history._times) if name in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)
