"""django-split-settings: `include("components/*.py", optional("local.py"))` runs each file
that matches, in order, in the namespace of the settings module that calls it, so the
files read and override each other's names as if they were one module. Patterns are globs
relative to the file that calls include(); a file already included is skipped; a required
pattern that matches nothing stops Django at start-up."""
from __future__ import annotations

import fnmatch
import posixpath
from typing import TYPE_CHECKING, Callable

from qlint.model import Value, known, unknown
from qlint.resolve.objects import Sym
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.host import Frame

INCLUDE = frozenset({"split_settings.tools.include", "split_settings.include"})
OPTIONAL = frozenset({"split_settings.tools.optional", "split_settings.optional"})


def include(scope: "Frame", expr: ir.Call, run: Callable[[tuple[ir.Stmt, ...]], None]) -> Value:
    module = scope.module
    workspace = scope.workspace
    folder = posixpath.dirname(module.including or module.path)
    for arg in expr.args:
        target, optional = arg, False
        if isinstance(arg, ir.Call) and _qualname(scope, arg.func) in OPTIONAL and arg.args:
            target, optional = arg.args[0], True
        pattern = scope.evaluator.eval(target)
        if optional and pattern.status == "known" and not pattern.value:
            continue  # optional("") or optional(None): skipped
        if pattern.status != "known" or not isinstance(pattern.value, str):
            module.opaque = f"include() of settings files qlint cannot name ({pattern.reason or 'not a string'})"
            continue
        wanted = posixpath.normpath(posixpath.join(folder, pattern.value))
        matches = [f for f in workspace.index.every_file() if _glob_match(f, wanted)]
        if not matches and not optional:
            module.opaque = f"include({pattern.value!r}) matches no file of the project"
        bound_by: dict[str, list[str]] = {}
        for path in matches:
            if path in module.included:
                continue
            module.included.add(path)
            facts = workspace.load_facts(path)
            if facts is None or facts.error is not None:
                module.opaque = f"included settings file {path} cannot be analysed: {facts.error if facts else 'unreadable'}"
                continue
            saved, module.including = module.including, path
            before = dict(scope.names)
            try:
                run(facts.body)
            finally:
                module.including = saved
            for name, value in scope.names.items():
                if before.get(name) is not value:
                    bound_by.setdefault(name, []).append(path)
        # glob returns the files of one pattern in the file system's order, not sorted: a
        # name that several of them set has whichever value the last one read gives.
        for name, paths in bound_by.items():
            if len(paths) > 1:
                scope.names[name] = unknown(
                    f"set by {', '.join(paths)}, which include({pattern.value!r}) reads in no fixed order",
                    scope.spans.get(name))
    return known(None, expr.span) if module.opaque is None else unknown(module.opaque, expr.span)


def _qualname(scope: "Frame", func: ir.Expr) -> str | None:
    value = scope.evaluator.eval(func)
    return value.value.qualname if isinstance(value.value, Sym) else None


def _glob_match(path: str, pattern: str) -> bool:
    """glob's rule: each * or ? stays within one folder."""
    parts, wanted = path.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatchcase(p, w) and (not p.startswith(".") or w.startswith(".")) for p, w in zip(parts, wanted))
