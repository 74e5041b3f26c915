"""The baseline: findings a project has accepted for now, so that a check reports only new ones.

`qlint baseline` writes the file, `qlint check --baseline FILE` (or `baseline = "FILE"` in
[tool.qlint]) leaves out the findings it lists. The file is JSON:

    {
      "version": 1,
      "tool": "qlint",
      "findings": [
        {"code": "QL101", "path": "proj/settings/base.py", "fingerprint": "9c1e0f4b2a7d6e35:0",
         "message": "tasks of app 'proj' are acknowledged late and ..."}
      ]
    }

A finding matches an entry with the same code, path and fingerprint (fingerprint.py), so lines
inserted above it do not make it new, and editing its own code does. Paths are relative to the
project root, with forward slashes, so the file means the same from any folder and on any system.
Entries are sorted by path, code and fingerprint: the same findings give the same bytes, and a
diff of the file shows what was added or fixed. `message` is for the people reading the file;
matching ignores it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from qlint.model import Finding
from qlint.pipeline.fingerprint import fingerprints

VERSION = 1
DEFAULT_NAME = "qlint-baseline.json"


class BaselineError(Exception):
    """A baseline file that cannot be read or is not one; the message is meant for the user."""


@dataclass(frozen=True, order=True)
class Entry:
    path: str
    code: str
    fingerprint: str
    message: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.code, self.path, self.fingerprint)


def entries(findings: Sequence[Finding], *, cwd: Path, project_root: Path) -> list[Entry]:
    """One entry per finding, in the file's order. Finding paths are relative to cwd."""
    prints = fingerprints(findings, cwd)
    return sorted(Entry(project_path(f.span.path, cwd, project_root), f.code, fp, f.message)
                  for f, fp in zip(findings, prints))


def project_path(path: str, cwd: Path, project_root: Path) -> str:
    """A path relative to cwd as the baseline writes it: relative to the project root, with forward slashes."""
    absolute = os.path.normpath(os.path.join(cwd, path))
    return os.path.relpath(absolute, os.path.normpath(project_root)).replace(os.sep, "/")


def dumps(baseline: Sequence[Entry]) -> str:
    data = {
        "version": VERSION,
        "tool": "qlint",
        "findings": [{"code": e.code, "path": e.path, "fingerprint": e.fingerprint, "message": e.message}
                     for e in sorted(baseline)],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load(path: Path) -> frozenset[tuple[str, str, str]]:
    """The (code, path, fingerprint) keys a baseline file lists. Raises BaselineError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(f"baseline {path} does not exist (`qlint baseline` writes one)") from None
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BaselineError(f"baseline {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno}") from None
    except RecursionError:
        raise BaselineError(f"baseline {path} is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict) or "findings" not in data:
        raise BaselineError(f"{path} is not a qlint baseline: expected an object with \"version\" and "
                            f"\"findings\" (`qlint baseline` writes one)")
    if data.get("version") != VERSION:
        raise BaselineError(f"baseline {path} has version {data.get('version')!r}; this qlint reads version "
                            f"{VERSION} (write it again with `qlint baseline`)")
    if not isinstance(data["findings"], list):
        raise BaselineError(f"baseline {path}: \"findings\" must be a list")
    keys = set()
    for index, item in enumerate(data["findings"]):
        fields = ("code", "path", "fingerprint")
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            raise BaselineError(f"baseline {path}: findings[{index}] must be an object with string "
                                f"\"code\", \"path\" and \"fingerprint\"")
        keys.add((item["code"], item["path"], item["fingerprint"]))
    return frozenset(keys)


def split(findings: Sequence[Finding], baseline: frozenset[tuple[str, str, str]], *, cwd: Path,
          project_root: Path) -> tuple[list[Finding], list[Finding]]:
    """The findings the baseline does not list (to report), and those it does."""
    new, known = [], []
    for finding, fp in zip(findings, fingerprints(findings, cwd)):
        key = (finding.code, project_path(finding.span.path, cwd, project_root), fp)
        (known if key in baseline else new).append(finding)
    return new, known
