"""The replay as JSON, written piece by piece as it is encoded.

The text is what json.dumps({**trace.to_json(), **extra}, indent=2, default=str) prints, without
building that dictionary (a copy of every record) or the whole string: a replay of a day holds
hundreds of thousands of records. json's own encoder runs in pure Python once it indents.
"""
from __future__ import annotations

import json
from dataclasses import fields
from json.encoder import encode_basestring_ascii as _string
from typing import Any, Iterable, Iterator, TextIO

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
    """A list of records at depth 1, in batches."""
    if not records:
        yield "[]"
        return
    names = [f.name for f in fields(records[0])]
    keys = [f"\n      {_string(name)}: " for name in names]
    for start in range(0, len(records), _BATCH):
        yield ("," if start else "[") + ",".join(
            "\n    {" + ",".join(key + _encode(getattr(record, name), 3) for key, name in zip(keys, names)) + "\n    }"
            for record in records[start:start + _BATCH])
    yield "\n  ]"


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
        return _container("[", "]", (_encode(v, depth + 1) for v in value), depth) if value else "[]"
    if cls is dict and all(k.__class__ is str for k in value):
        return _container("{", "}", (f"{_string(k)}: {_encode(v, depth + 1)}" for k, v in value.items()),
                          depth) if value else "{}"
    return json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * depth)


def _container(opening: str, closing: str, items: Iterable[str], depth: int) -> str:
    inner = "\n" + "  " * (depth + 1)
    return opening + inner + ("," + inner).join(items) + "\n" + "  " * depth + closing
