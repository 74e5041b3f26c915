"""Which modules the resolver will read next, one import further than the crew guesses.

A member that parses a file queues the modules that file imports a used name from
(crew.needed_modules). It cannot see further: when `models.User` is read and `models` is
a package whose `__init__.py` only imports `User` from `.user`, the member that parsed
the importer does not know that `user.py` will be wanted too. The resolver's process
holds every file it has read, so it follows such names here: each name a file takes from
another project module is looked up in that module's imports once the module is read,
and the module it comes from is queued for the crew, after what it already has to do.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.modules import ModuleIndex


class Lookahead:
    def __init__(self, index: "ModuleIndex", queue: Callable[[Iterable[str]], None]) -> None:
        self._index = index
        self._queue = queue
        self._facts: dict[str, ir.ModuleFacts] = {}
        self._sources: dict[str, dict[str, tuple[str, str]]] = {}  # module -> name -> where it imports it from
        self._pending: dict[str, set[str]] = {}  # names wanted of modules not read yet
        self._seen: set[tuple[str, str]] = set()

    def read(self, facts: ir.ModuleFacts) -> None:
        """A module the resolver now holds: follow what it wants, and what was wanted of it."""
        self._facts[facts.path] = facts
        for path, name in wanted_names(facts, self._index):
            self._want(path, name)
        for name in self._pending.pop(facts.path, ()):
            self._follow(facts.path, name)

    def _want(self, path: str, name: str) -> None:
        if (path, name) in self._seen:
            return
        self._seen.add((path, name))
        if path in self._facts:
            self._follow(path, name)
        else:
            self._pending.setdefault(path, set()).add(name)

    def _follow(self, path: str, name: str) -> None:
        if path not in self._sources:
            self._sources[path] = dict(imported_names(self._facts[path], self._index))
        source = self._sources[path].get(name)
        if source is not None:
            self._queue([source[0]])
            self._want(*source)


def wanted_names(facts: ir.ModuleFacts, index: "ModuleIndex") -> Iterator[tuple[str, str]]:
    """(module, name): the names of other project modules a file will probably look up.
    Those it imports and uses, and the attributes it reads of a module it imports whole."""
    used = facts.names_read
    attributes: dict[str, list[str]] = {}
    for name, attribute in facts.attributes_read:
        attributes.setdefault(name, []).append(attribute)
    for stmt in imports(facts.body):
        if isinstance(stmt, ir.Import):
            for dotted, alias in stmt.names:
                path = index.resolve(dotted, 0, facts.path) if alias in attributes else None
                if path is not None:
                    yield from ((path, attribute) for attribute in attributes[alias])
            continue
        if stmt.star or all((alias or name) not in used for name, alias in stmt.names):
            continue
        base = index.resolve(stmt.module, stmt.level, facts.path)
        if base is None:
            continue
        for name, alias in stmt.names:
            local = alias or name
            if local not in used:
                continue
            module = index.submodule(base, name)
            if module is not None:
                yield from ((module, attribute) for attribute in attributes.get(local, ()))
            else:
                yield base, name


def imported_names(facts: ir.ModuleFacts, index: "ModuleIndex") -> Iterator[tuple[str, tuple[str, str]]]:
    """(name, (project module, its name there)) for each name a module's own code imports
    from another project module (not a submodule, which is bound without being read)."""
    for stmt in _statements(facts.body, into_definitions=False):
        if isinstance(stmt, ir.ImportFrom) and not stmt.star:
            base = index.resolve(stmt.module, stmt.level, facts.path)
            if base is None:
                continue
            for name, alias in stmt.names:
                if index.submodule(base, name) is None:
                    yield alias or name, (base, name)


def imports(body: tuple[ir.Stmt, ...]) -> Iterator[ir.Import | ir.ImportFrom]:
    """Every import statement of a module, those in functions and classes too, in text order."""
    return (stmt for stmt in _statements(body, into_definitions=True) if isinstance(stmt, (ir.Import, ir.ImportFrom)))


def _statements(body: tuple[ir.Stmt, ...], into_definitions: bool) -> Iterator[ir.Stmt]:
    blocks = (ir.Block, ir.FuncDef, ir.ClassDef) if into_definitions else (ir.Block,)
    stack: list[Any] = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        if isinstance(stmt, ir.If):
            stack.extend(reversed([*stmt.body, *stmt.orelse]))
        elif isinstance(stmt, ir.Try):
            stack.extend(reversed([*stmt.body, *(s for _, b in stmt.handlers for s in b), *stmt.orelse,
                                   *stmt.finalbody]))
        elif isinstance(stmt, blocks):
            stack.extend(reversed(stmt.body))
