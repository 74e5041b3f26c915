"""The replay as JSON, written piece by piece as it is encoded.

The text is what json.dumps({**trace.to_json(), **extra}, indent=2, default=str) prints, without
building that dictionary (a copy of every record) or the whole string: a replay of a day holds
hundreds of thousands of records. json's own encoder runs in pure Python once it indents.
"""
from __future__ import annotations

import json
import math
from dataclasses import fields
from operator import attrgetter
from json.encoder import encode_basestring_ascii as _string
from typing import Any, Callable, Iterable, Iterator, Sequence, TextIO

from .trace import Trace

_BATCH = 1000  # records joined into one write


def write_json(trace: Trace, out: TextIO, extra: dict[str, Any] | None = None) -> None:
    members: list[tuple[str, Iterable[str]]] = [
        ("mode", [_encode(trace.mode, 1)]),
        ("broker", [_encode(trace.broker, 1)]),
        ("until", [_encode(trace.until, 1)]),
        ("executions", _records(trace.executions)),
        ("deliveries", _records(trace.deliveries)),
        ("reserved", [_encode(trace.reserved, 1)]),
        ("events", _records(trace.events)),
        ("summary", [_encode(trace.summary(), 1)]),
        *((key, [_encode(value, 1)]) for key, value in (extra or {}).items()),
    ]
    for n, (key, chunks) in enumerate(members):
        out.write(f'{"," if n else "{"}\n  {_string(key)}: ')
        for chunk in chunks:
            out.write(chunk)
    out.write("\n}\n")


def _records(records: list[Any]) -> Iterator[str]:
    """A list of records at depth 1, in batches: each field of a batch encoded as a column."""
    if not records:
        yield "[]"
        return
    names = [f.name for f in fields(records[0])]
    # The names are identifiers: no % in the template but those of the values.
    record = "\n    {" + ",".join(f"\n      {_string(name)}: %s" for name in names) + "\n    }"
    getters = [attrgetter(name) for name in names]
    for start in range(0, len(records), _BATCH):
        batch = records[start:start + _BATCH]
        columns = [_column(list(map(getter, batch)), 3) for getter in getters]
        yield ("," if start else "[") + ",".join(map(record.__mod__, zip(*columns)))
    yield "\n  ]"


def _column(values: Sequence[Any], depth: int) -> list[str]:
    """Values at `depth` (the items of a list, the values of a mapping, a field of records at depth 1)
    encoded: by json's own C functions when all are of one plain type (a timeline has hundreds of
    thousands of records)."""
    kinds = set(map(type, values))
    if kinds == {float} and all(map(math.isfinite, values)):
        return list(map(float.__repr__, values))
    if len(kinds) == 1 and next(iter(kinds)) in _PLAIN:
        return list(map(_PLAIN[next(iter(kinds))], values))
    if kinds <= _PLAIN.keys():  # an end time or None, say
        return [_PLAIN[value.__class__](value) for value in values]
    if kinds <= {list, tuple} and values[0] and len(set(map(len, values))) == 1:
        return _rows(values, depth)
    return [_encode(value, depth) for value in values]


def _rows(rows: Sequence[Sequence[Any]], depth: int) -> list[str]:
    """Lists of one length at `depth`, such as a worker's (time, count) steps: a column at a time."""
    inner = "\n" + "  " * (depth + 1)
    row = "[" + inner + ("," + inner).join(["%s"] * len(rows[0])) + "\n" + "  " * depth + "]"
    return list(map(row.__mod__, zip(*[_column(column, depth + 1) for column in zip(*rows)])))


def _float(value: float) -> str:
    return float.__repr__(value) if value - value == 0.0 else _encode(value, 0)


_WORDS = {True: "true", False: "false", None: "null"}
_PLAIN: dict[type, Callable[[Any], str]] = {str: _string, int: int.__repr__, float: _float,
                                             bool: _WORDS.__getitem__, type(None): _WORDS.__getitem__}


def _encode(value: Any, depth: int) -> str:
    """json.dumps(value, indent=2, default=str) as it reads `depth` levels deep."""
    cls = value.__class__
    if cls is str:
        return _string(value)
    if cls is int:
        return int.__repr__(value)
    if cls is float and value - value == 0.0:  # finite: json writes NaN and Infinity otherwise
        return float.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if cls is list or cls is tuple:
        return _container("[", "]", _column(value, depth + 1), depth) if value else "[]"
    if cls is dict and all(k.__class__ is str for k in value):
        items = zip(map(_string, value), _column(list(value.values()), depth + 1))
        return _container("{", "}", map(": ".join, items), depth) if value else "{}"
    return json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * depth)


def _container(opening: str, closing: str, items: Iterable[str], depth: int) -> str:
    inner = "\n" + "  " * (depth + 1)
    return opening + inner + ("," + inner).join(items) + "\n" + "  " * depth + closing
