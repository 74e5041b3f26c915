"""``.env`` files: ``KEY=value`` lines, with ``export``, quotes and comments."""
from __future__ import annotations

import re

from qlint.model import Span, Value
from qlint.sources.deploy.facts import DeployFacts, EnvVar

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_dotenv(path: str, text: str) -> DeployFacts:
    env = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if not match:
            continue
        name = match.group(1)
        value, start, end = _value(match.group(2))
        offset = match.start(2)
        where = Span(path, number, offset + start + 1, number, offset + end + 1)
        whole = Span(path, number, match.start(1) + 1, number, match.end(2) + 1)
        env.append(EnvVar(name, Value("known", value, where), whole))
    return DeployFacts(path, "dotenv", env=env)


def _value(raw: str) -> tuple[str, int, int]:
    """The value of the text after ``=``, and where it starts and ends in that text."""
    if raw[:1] == "'":
        close = raw.find("'", 1)
        close = len(raw) if close < 0 else close
        return raw[1:close], 1, close
    if raw[:1] == '"':
        out, k = [], 1
        while k < len(raw) and raw[k] != '"':
            if raw[k] == "\\" and k + 1 < len(raw):
                out.append(_ESCAPES.get(raw[k + 1], "\\" + raw[k + 1]))
                k += 2
                continue
            out.append(raw[k])
            k += 1
        return "".join(out), 1, k
    comment = re.search(r"\s#", raw)
    end = comment.start() if comment else len(raw)
    if raw.startswith("#"):
        end = 0
    return raw[:end].rstrip(), 0, len(raw[:end].rstrip())
