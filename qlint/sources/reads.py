"""The names a module will probably make the resolver look up, found once when it is parsed.

The crew queues the project modules a file imports those names from (crew.needed_modules),
and the resolver's process follows them one import further (lookahead.py). Stored in the
facts, so that neither walks the tree of a file parsed elsewhere or read from the cache.
"""
from __future__ import annotations

from typing import Iterator

from qlint.sources import ir

# Calls whose arguments the rules read (task calls and signatures).
_TASK_CALLS = frozenset({"delay", "apply_async", "s", "si", "signature", "subtask", "send_task"})


def likely_reads(body: tuple[ir.Stmt, ...]) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """(names, attributes): the names the resolver or the rules will probably look up, and
    the (name, attribute) pairs read of them, such as ("models", "User") for `models.User`.

    Names are every name in module and class code (the resolver runs it) and in decorators
    and defaults. In the function bodies that were read, they are the names that calls start
    from and whatever task calls are given; the attribute of a call's root is the one next
    to it (`models` and `User` in `models.User.objects.get()`)."""
    names: set[str] = set()
    attributes: set[tuple[str, str]] = set()
    functions = _read_every_name(ir.nodes_until(body, (ir.FuncDef,)), names, attributes)
    for func in functions:
        signature = (func.decorators, tuple(p.default for p in func.params if p.default is not None))
        _read_every_name(ir.nodes_until(signature, ()), names, attributes)  # no function is defined there
        for node in ir.own_nodes(func):
            if type(node) is ir.Call:
                _read_call(node, names, attributes)
    return frozenset(names), tuple(sorted(attributes))


def _read_every_name(nodes: Iterator[object], names: set[str], attributes: set[tuple[str, str]]) -> list[ir.FuncDef]:
    """Record the names and attributes of names among `nodes`; the functions met, to read apart."""
    functions = []
    for node in nodes:
        kind = type(node)
        if kind is ir.Name:
            names.add(node.id)
        elif kind is ir.Attr and type(node.value) is ir.Name:
            attributes.add((node.value.id, node.attr))
        elif kind is ir.FuncDef:
            functions.append(node)
    return functions


def _read_call(call: ir.Call, names: set[str], attributes: set[tuple[str, str]]) -> None:
    root, next_to_root = call.func, None
    while isinstance(root, (ir.Attr, ir.Sub, ir.Call)):
        if isinstance(root, ir.Call):
            root, next_to_root = root.func, None
        else:
            root, next_to_root = root.value, root
    if type(root) is ir.Name:
        names.add(root.id)
        if isinstance(next_to_root, ir.Attr):
            attributes.add((root.id, next_to_root.attr))
    if isinstance(call.func, ir.Attr) and call.func.attr in _TASK_CALLS:
        names.update(ir.names_in((call.args, call.kwargs)))
