"""INI-style files as written (supervisord, systemd): sections, keys and positioned values.

configparser loses positions, so lines are read here. A value continues on the next
line when that line is indented (supervisord) or the value ends with a backslash
(systemd); the continuation keeps its own positions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qlint.model import Span
from qlint.sources.deploy.located import Located

_SECTION = re.compile(r"\s*\[([^\]]+)\]\s*$")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*")


@dataclass(frozen=True)
class Entry:
    section: str
    key: str
    value: Located
    span: Span  # the whole "key=value" line(s)


def entries(path: str, text: str, backslash_continues: bool) -> list[Entry]:
    lines = text.splitlines()
    out: list[Entry] = []
    section = ""
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            continue
        indent = len(line) - len(line.lstrip())
        match = _KEY.match(line, indent)
        if not match:
            continue
        start_line = number
        value = Located.at(path, line[match.end():], number, match.end() + 1)
        while number < len(lines):
            following = lines[number]
            if backslash_continues and value.text.rstrip().endswith("\\"):
                cut = value.text.rstrip()
                value = _joined(value[:len(cut) - 1], Located.at(path, " " + following, number + 1, 0))
            elif not backslash_continues and following[:1] in (" ", "\t") and following.strip() \
                    and not following.lstrip().startswith(("#", ";")):
                value = _joined(value, Located.at(path, "\n" + following, number, len(lines[number - 1]) + 1))
            else:
                break
            number += 1
        end_text = lines[number - 1]
        span = Span(path, start_line, indent + 1, number, len(end_text) + 1)
        out.append(Entry(section, match.group(1), _rstrip(value), span))
    return out


def _joined(first: Located, second: Located) -> Located:
    return Located(first.path, first.text + second.text, first.positions + second.positions)


def _rstrip(value: Located) -> Located:
    return value[:len(value.text.rstrip())]
