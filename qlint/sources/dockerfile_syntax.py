"""A Dockerfile's instructions, as both of qlint's Dockerfile readers need them: the deployment
reader (deploy/dockerfile.py: ENV, CMD, COPY...) and the dependency reader
(dependencies/pip_install.py: pip commands in RUN).

Continuation lines are joined (the escape character is `\\` unless a `# escape=` directive
says otherwise); comment and blank lines inside an instruction are dropped, and so is the body
of a heredoc (`RUN <<EOF ... EOF`). An instruction's positioned text (Located) is made only
when a reader asks for it: most instructions are never read word by word.
"""
from __future__ import annotations

import re
from typing import Iterator

from qlint.sources.deploy.located import Located

_ESCAPE_DIRECTIVE = re.compile(r"#\s*escape\s*=\s*(\S)", re.I)
_INSTRUCTION = re.compile(r"\s*([A-Za-z]+)\b")
_HEREDOC = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)")


class Instruction:
    """One instruction: its keyword (upper case), first line, and its arguments as pieces of
    lines."""

    def __init__(self, path: str, keyword: str, line: int, pieces: list[tuple[str, int, int]]) -> None:
        self.path = path
        self.keyword = keyword
        self.line = line
        self.pieces = pieces  # (text, line, column of its first character)
        self.text = "".join(text for text, _, _ in pieces)

    def located(self) -> Located:
        parts = [Located.at(self.path, text, line, column) for text, line, column in self.pieces]
        return Located(self.path, self.text, tuple(pos for part in parts for pos in part.positions))


def _cut(text: str, escape: str) -> tuple[str, bool]:
    """The text without its trailing escape character, and whether the instruction goes on."""
    kept = text.rstrip()
    if kept.endswith(escape):
        return text[:len(kept) - 1], True
    return text, False


def instructions(path: str, text: str) -> Iterator[Instruction]:
    lines = text.splitlines()
    escape = "\\"
    for line in lines[:5]:
        directive = _ESCAPE_DIRECTIVE.match(line.strip())
        if directive:
            escape = directive.group(1)
        elif line.strip() and not line.strip().startswith("#"):
            break
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        match = _INSTRUCTION.match(line) if stripped and not stripped.startswith("#") else None
        if match is None:
            i += 1
            continue
        start_line = i + 1
        piece, continues = _cut(line[match.end():], escape)
        pieces = [(piece, i + 1, match.end() + 1)]
        while continues and i + 1 < len(lines):
            i += 1
            following = lines[i]
            if not following.strip() or following.lstrip().startswith("#"):
                continue
            piece, continues = _cut(" " + following, escape)
            pieces.append((piece, i + 1, 0))
        i += 1
        instruction = Instruction(path, match.group(1).upper(), start_line, pieces)
        heredoc = _HEREDOC.search(instruction.text) if instruction.keyword in ("RUN", "COPY", "ADD") else None
        if heredoc:
            end = heredoc.group(1)
            while i < len(lines) and lines[i].strip() != end:
                i += 1
            i += 1
            continue
        yield instruction
