"""What a check leaves out or warns about besides its findings (a template skipped, a
deployment file Celery would refuse, a path holding nothing qlint reads), for every report:
text prints them on stderr, JSON lists them under `notes`, SARIF as tool notifications."""
from __future__ import annotations

import re
from dataclasses import dataclass

# A note starts with where it is about: "path", "path:line" or "path:line:column", then ": ".
_WHERE = re.compile(r"^(?P<path>[^\s:][^:]*?)(?::(?P<line>\d+)(?::(?P<column>\d+))?)?: (?P<message>.+)$", re.DOTALL)


@dataclass(frozen=True)
class Note:
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    level: str = "note"  # or "warning"

    @property
    def text(self) -> str:
        where = ":".join(str(p) for p in (self.path, self.line, self.column) if p is not None)
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, object]:
        return {"level": self.level, "path": self.path, "line": self.line, "column": self.column,
                "message": self.message}


def parse_note(text: str, level: str = "note") -> Note:
    """A note as the resolver words it ("deploy/chart.yaml: a template ...; skipped"), split
    into its place and message; a note about no file is all message."""
    match = _WHERE.match(text)
    if match is None or " " in match.group("path"):
        return Note(text, level=level)
    line, column = match.group("line"), match.group("column")
    return Note(match.group("message"), match.group("path"), int(line) if line else None,
                int(column) if column else None, level)
