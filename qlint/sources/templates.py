"""Files that are templates (Jinja, Go templates) rather than the format they are named
after: a cookiecutter or copier project, a Helm chart. They say nothing certain about a
deployment until rendered, so readers skip them with a note instead of reporting them."""
from __future__ import annotations

import ast
import re

MARKERS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_PLACEHOLDER_FOLDER = re.compile(r"\{\{.*?\}\}")
PYTHON_NOTE = "a template (Jinja markers), not Python; skipped"


def in_template_folder(path: str) -> bool:
    """Under a folder named by a placeholder (`{{cookiecutter.project_slug}}/...`)."""
    return any(_PLACEHOLDER_FOLDER.search(part) for part in path.split("/")[:-1])


def is_python_template(path: str, text: str) -> bool:
    """True for a Python file that does not parse because it is a template: it sits under a
    folder named by a placeholder ({{cookiecutter.project_slug}}/...), or the line where
    Python's parser stops holds a template marker. Called only for files that failed to parse."""
    if in_template_folder(path):
        return True
    try:
        ast.parse(text)
    except SyntaxError as exc:
        lines = text.splitlines()
        line = lines[exc.lineno - 1] if exc.lineno and 0 < exc.lineno <= len(lines) else ""
        return MARKERS.search(line) is not None
    except (ValueError, RecursionError, MemoryError):
        return False
    return False
