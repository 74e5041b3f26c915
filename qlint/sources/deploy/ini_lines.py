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
        # The value's lines, joined once at the end: joining at each continuation line copied
        # the value so far every time (a 380 KB unit took 93 s).
        parts = [Located.at(path, line[match.end():], number, match.end() + 1)]
        while number < len(lines):
            following = lines[number]
            if backslash_continues and _ends_with_backslash(parts):
                last = parts[-1]
                parts[-1] = last[:len(last.text.rstrip()) - 1]
                parts.append(Located.at(path, " " + following, number + 1, 0))
            elif not backslash_continues and following[:1] in (" ", "\t") and following.strip() \
                    and not following.lstrip().startswith(("#", ";")):
                parts.append(Located.at(path, "\n" + following, number, len(lines[number - 1]) + 1))
            else:
                break
            number += 1
        end_text = lines[number - 1]
        span = Span(path, start_line, indent + 1, number, len(end_text) + 1)
        out.append(Entry(section, match.group(1), _rstrip(_joined(parts)), span))
    return out


def _ends_with_backslash(parts: list[Located]) -> bool:
    """Whether the value so far, without its trailing blanks, ends with a backslash. Parts
    that are all blanks are dropped on the way, as cutting the backslash would drop them."""
    while len(parts) > 1 and not parts[-1].text.strip():
        parts.pop()
    return parts[-1].text.rstrip().endswith("\\")


def _joined(parts: list[Located]) -> Located:
    if len(parts) == 1:
        return parts[0]
    return Located(parts[0].path, "".join(p.text for p in parts), tuple(x for p in parts for x in p.positions))


def _rstrip(value: Located) -> Located:
    return value[:len(value.text.rstrip())]
