"""Manifests: what a project asks for, with ranges. pyproject.toml (PEP 621 dependencies and
optional-dependencies, PEP 735 dependency groups, Poetry, PDM, uv), Pipfile, setup.cfg,
and a static install_requires in setup.py, read with `ast` and never run.

TOML gives no positions, so each requirement is found again in the text: the quoted
string of a PEP 508 entry, or the `name =` line of a table (Poetry, Pipfile) under its
table's header. Poetry's own constraints (`^5.3`, `~5.3`, `5.3.6`, `>=5.2 <6`, `a || b`)
are written out as PEP 440 specifiers; `||` stays as the separator of alternatives.
"""
from __future__ import annotations

import ast
import re
import sys
import warnings
from typing import Any, Iterable

from qlint.model import Span
from qlint.sources.dependencies.facts import PACKAGES, DependencyFacts, Requirement
from qlint.sources.dependencies.requirements import checked_specifier, package_of, parse_requirement
from qlint.sources.templates import MARKERS
from qlint.sources.deploy.ini_lines import entries as ini_entries

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class _Text:
    """The file's text, to find where a value TOML or configparser read was written."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def span_at(self, start: int, end: int) -> Span:
        from bisect import bisect_right

        line = bisect_right(self._line_starts, start)
        end_line = bisect_right(self._line_starts, max(start, end - 1))
        return Span(self.path, line, start - self._line_starts[line - 1] + 1, end_line,
                    end - self._line_starts[end_line - 1] + 1)

    def header(self, table: str) -> int:
        """Where a [table] header ends; 0 when there is none (an inline or dotted table)."""
        match = re.search(r"(?m)^\s*\[\s*" + r"\s*\.\s*".join(re.escape(p) for p in table.split(".")) + r"\s*\]", self.text)
        return match.end() if match else 0

    def string(self, value: str, after: int = 0) -> Span:
        """Where a string value is written (quoted), at or after `after`."""
        for quoted in (f'"{value}"', f"'{value}'", f'"""{value}', value):
            index = self.text.find(quoted, after)
            if index >= 0:
                return self.span_at(index, index + len(quoted))
        return self.span_at(after, after) if after else Span(self.path, 1)

    def key(self, name: str, after: int = 0) -> Span:
        """Where `name = ...` is written, at or after `after`."""
        pattern = re.compile(r'(?mi)^[ \t]*["\']?' + re.escape(name).replace(r"\-", "[-_.]") + r'["\']?[ \t]*=.*$')
        match = pattern.search(self.text, after)
        if match is None:
            return self.span_at(after, after) if after else Span(self.path, 1)
        start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
        return self.span_at(start, match.end())


# --- pyproject.toml ----------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def read_pyproject(path: str, text: str) -> DependencyFacts:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if MARKERS.search(text):  # a cookiecutter's or copier's template of a pyproject.toml
            return DependencyFacts(path, "pyproject", notes=(f"{path}: a template (Jinja markers), not TOML; skipped",))
        return DependencyFacts(path, "pyproject", error=f"not valid TOML ({exc})", error_span=Span(path, 1))
    where = _Text(path, text)
    found: list[Requirement] = []
    project = data.get("project") if isinstance(data.get("project"), dict) else {}

    def pep508(items: Iterable[str], table: str, group: str | None = None, constraint: bool = False) -> None:
        after = where.header(table)
        for item in items:
            if package_of(item) is None:
                continue
            requirement = parse_requirement(item, where.string(item, after), group=group, constraint=constraint)
            if requirement is not None:
                found.append(requirement)

    pep508(_strings(project.get("dependencies")), "project")
    optional = project.get("optional-dependencies")
    for extra, items in (optional.items() if isinstance(optional, dict) else ()):
        pep508(_strings(items), "project.optional-dependencies", group=f"extra {extra}")
    groups = data.get("dependency-groups")
    for name, items in (groups.items() if isinstance(groups, dict) else ()):
        pep508(_strings(items), "dependency-groups", group=f"group {name}")
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    pdm = tool.get("pdm") if isinstance(tool.get("pdm"), dict) else {}
    dev = pdm.get("dev-dependencies")
    for name, items in (dev.items() if isinstance(dev, dict) else ()):
        pep508(_strings(items), "tool.pdm.dev-dependencies", group=f"group {name}")
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    pep508(_strings(uv.get("dev-dependencies")), "tool.uv", group="group dev")
    pep508(_strings(uv.get("constraint-dependencies")), "tool.uv", constraint=True)
    pep508(_strings(uv.get("override-dependencies")), "tool.uv", constraint=True)

    python = project.get("requires-python") if isinstance(project.get("requires-python"), str) else None
    python_span = where.key("requires-python", where.header("project")) if python else None
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    tables = [("tool.poetry.dependencies", poetry.get("dependencies"), None),
              ("tool.poetry.dev-dependencies", poetry.get("dev-dependencies"), "group dev")]
    poetry_groups = poetry.get("group")
    for name, group in (poetry_groups.items() if isinstance(poetry_groups, dict) else ()):
        if isinstance(group, dict):
            tables.append((f"tool.poetry.group.{name}.dependencies", group.get("dependencies"), f"group {name}"))
    for table, deps, group in tables:
        if not isinstance(deps, dict):
            continue
        after = where.header(table)
        for name, spec in deps.items():
            if name == "python" and python is None:
                converted = poetry_constraint(spec if isinstance(spec, str) else "")
                if converted:
                    python, python_span = converted, where.key("python", after)
                continue
            if package_of(name) is not None:
                found.extend(_table_entry(name, spec, where.key(name, after), group, poetry_syntax=True))
    return DependencyFacts(path, "pyproject", tuple(found), python=_checked_python(python), python_span=python_span)


def _table_entry(name: str, spec: Any, span: Span, group: str | None, poetry_syntax: bool) -> list[Requirement]:
    """A `name = spec` entry of a Poetry or Pipfile table (a string, a table, or a list of tables)."""
    package = package_of(name)
    if package is None or package != name.lower().replace("_", "-"):
        return []
    out = []
    for one in (spec if isinstance(spec, list) else [spec]):
        text = f"{name} = {one!r}"
        extras: tuple[str, ...] = ()
        marker = None
        if isinstance(one, dict):
            if any(k in one for k in ("git", "path", "url", "file")):
                out.append(Requirement(package, "", span, text, group=group,
                                       unreadable="installed from a checkout, a path or a URL, whose version qlint cannot read"))
                continue
            given = one.get("extras")
            extras = tuple(sorted(e for e in given if isinstance(e, str))) if isinstance(given, list) else ()
            marker = one.get("markers") if isinstance(one.get("markers"), str) else None
            python = one.get("python")
            if isinstance(python, str) and python.strip() not in ("", "*"):
                converted = poetry_constraint(python)
                clause = " or ".join(_python_marker(part) for part in converted.split(" || ")) if converted else None
                if clause:
                    marker = f"({marker}) and ({clause})" if marker else clause
            one = one.get("version", "*")
        if not isinstance(one, str):
            continue
        specifier = poetry_constraint(one) if poetry_syntax else _pipfile_constraint(one)
        if specifier is None:
            out.append(Requirement(package, "", span, text, extras, marker, group=group,
                                   unreadable=f"{one!r} is not a version constraint qlint reads"))
        else:
            out.append(Requirement(package, specifier, span, text, extras, marker, group=group))
    return out


def _python_marker(specifier: str) -> str:
    clauses = [f'python_full_version {s.operator} "{s.version}"' if not s.version.endswith(".*")
               else f'python_version {s.operator} "{s.version[:-2]}"' for s in _specifiers(specifier)]
    return " and ".join(clauses) or 'python_version >= "0"'


def _specifiers(specifier: str) -> list[Any]:
    from packaging.specifiers import SpecifierSet

    return list(SpecifierSet(specifier))


def _checked_python(specifier: str | None) -> str | None:
    return checked_specifier(specifier) if specifier else None


_POETRY_PART = re.compile(r"^\s*(\^|~=|~|==|!=|>=|<=|>|<|=)?\s*v?([0-9][0-9A-Za-z.*+!-]*)\s*$")


def poetry_constraint(text: str) -> str | None:
    """A Poetry version constraint as a PEP 440 specifier set ("" for any version; alternatives
    joined by " || "); None when it is not one."""
    text = text.strip()
    if text in ("", "*"):
        return ""
    alternatives = []
    for alternative in text.split("||"):
        parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", alternative.strip()) if p]
        converted = []
        for part in parts:
            one = _poetry_part(part)
            if one is None:
                return None
            converted.extend(one)
        specifier = checked_specifier(",".join(converted))
        if specifier is None:
            return None
        alternatives.append(specifier)
    return " || ".join(alternatives)


def _poetry_part(part: str) -> list[str] | None:
    if part.strip() == "*":
        return []
    match = _POETRY_PART.match(part)
    if match is None:
        return None
    operator, version = match.group(1) or "", match.group(2)
    if operator in ("", "=") and "*" not in version:
        return [f"=={version}"]
    if operator in ("", "=", "=="):
        return [f"=={version}"]
    if operator not in ("^", "~"):
        return [f"{operator}{version}"]
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    if not numbers:
        return None
    if operator == "~":
        upper = [numbers[0] + 1] if len(numbers) == 1 else [numbers[0], numbers[1] + 1]
    else:  # caret: the first non-zero part may not change
        index = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
        upper = numbers[:index] + [numbers[index] + 1]
    return [f">={version}", "<" + ".".join(map(str, upper))]


# --- Pipfile ---------------------------------------------------------------------------------


def _pipfile_constraint(text: str) -> str | None:
    text = text.strip()
    if text in ("", "*"):
        return ""
    if text[0].isdigit():
        text = f"=={text}"
    return checked_specifier(text)


def read_pipfile(path: str, text: str) -> DependencyFacts:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return DependencyFacts(path, "pipfile", error=f"not valid TOML ({exc})", error_span=Span(path, 1))
    where = _Text(path, text)
    found: list[Requirement] = []
    for table, deps in data.items():
        if table in ("source", "requires", "scripts", "pipenv") or not isinstance(deps, dict):
            continue
        after = where.header(table)
        group = None if table == "packages" else table
        for name, spec in deps.items():
            if package_of(name) is not None:
                found.extend(_table_entry(name, spec, where.key(name, after), group, poetry_syntax=False))
    python = python_span = None
    requires = data.get("requires") if isinstance(data.get("requires"), dict) else {}
    for key in ("python_full_version", "python_version"):
        if isinstance(requires.get(key), str):
            version = requires[key].strip()
            python = f"=={version}" if key == "python_full_version" else f"=={version}.*"
            python_span = where.key(key, where.header("requires"))
            break
    return DependencyFacts(path, "pipfile", tuple(found), python=_checked_python(python), python_span=python_span)


# --- setup.cfg and setup.py ----------------------------------------------------------------------


def read_setup_cfg(path: str, text: str) -> DependencyFacts:
    found: list[Requirement] = []
    python = python_span = None
    for entry in ini_entries(path, text, backslash_continues=False):
        section, key = entry.section.strip(), entry.key.strip()
        if section == "options" and key == "python_requires":
            python, python_span = entry.value.text.strip(), entry.span
            continue
        if section == "options" and key in ("install_requires", "tests_require", "setup_requires"):
            group = None if key == "install_requires" else key
        elif section == "options.extras_require":
            group = f"extra {key}"
        else:
            continue
        value = entry.value
        offset = 0
        for line in value.text.split("\n"):
            item = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            start = offset + (len(line) - len(line.lstrip()))
            offset += len(line) + 1
            if not item or package_of(item) is None:
                continue
            requirement = parse_requirement(item, value.span(start, start + len(item)), group=group)
            if requirement is not None:
                found.append(requirement)
    return DependencyFacts(path, "setup-cfg", tuple(found), python=_checked_python(python), python_span=python_span)


_SETUP_KEYS = {"install_requires": None, "tests_require": "tests_require", "setup_requires": "setup_requires"}


def read_setup_py(path: str, text: str) -> DependencyFacts:
    """setup(install_requires=[...], extras_require={...}, python_requires="...") as literals,
    or names bound to literals at the top of the module; the file is parsed, never run."""
    try:
        with warnings.catch_warnings():  # an invalid escape in setup.py is not this reader's to report
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return DependencyFacts(path, "setup-py", notes=(f"{path}: cannot parse setup.py ({type(exc).__name__}); "
                                                         "its install_requires is not read",))
    bound: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            bound[node.targets[0].id] = node.value
    found: list[Requirement] = []
    notes: list[str] = []
    python = python_span = None
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
        if name != "setup":
            continue
        for keyword in call.keywords:
            value = bound.get(keyword.value.id, keyword.value) if isinstance(keyword.value, ast.Name) else keyword.value
            if keyword.arg in _SETUP_KEYS:
                items = _literal_strings(value)
                if items is None:
                    written = (ast.get_source_segment(text, value) or "").lower()
                    if any(package in written for package in PACKAGES):
                        notes.append(f"{path}:{keyword.value.lineno}: {keyword.arg} is computed, not a list of "
                                     "strings: qlint does not run setup.py, so it is not read")
                    continue
                found.extend(_from_nodes(path, items, _SETUP_KEYS[keyword.arg]))
            elif keyword.arg == "extras_require" and isinstance(value, ast.Dict):
                for key, items_node in zip(value.keys, value.values):
                    items = _literal_strings(bound.get(items_node.id, items_node)
                                             if isinstance(items_node, ast.Name) else items_node)
                    if isinstance(key, ast.Constant) and isinstance(key.value, str) and items is not None:
                        found.extend(_from_nodes(path, items, f"extra {key.value}"))
            elif keyword.arg == "python_requires" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                python, python_span = value.value, _node_span(path, value)
    return DependencyFacts(path, "setup-py", tuple(found), python=_checked_python(python), python_span=python_span,
                           notes=tuple(notes))


def _literal_strings(node: ast.expr) -> list[ast.Constant] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return list(node.elts)  # type: ignore[arg-type]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    return None


def _from_nodes(path: str, items: list[ast.Constant], group: str | None) -> list[Requirement]:
    out = []
    for item in items:
        for line in str(item.value).splitlines():
            if package_of(line) is not None:
                requirement = parse_requirement(line, _node_span(path, item), group=group)
                if requirement is not None:
                    out.append(requirement)
    return out


def _node_span(path: str, node: ast.expr) -> Span:
    return Span(path, node.lineno, node.col_offset + 1, node.end_lineno or node.lineno,
                (node.end_col_offset or node.col_offset) + 1)
