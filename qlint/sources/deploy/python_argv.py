"""Celery command lines that project code builds and starts itself.

Some projects start their workers from Python (a management command or a service runner
that hands `["celery", "-A", "proj", "worker", "-P", "threads", ...]` to subprocess): that
list is the deployed command line as much as a Procfile's. A list or tuple display whose
items spell `celery ... worker|beat|multi` (or `<python> -m celery ...`) is read as one
process; an item computed in Python (`str(self.num)`, `self.queue`) stands for an unknown
value of its option. Files under test folders are left out by the caller: a test that
starts a worker is no deployment.
"""
from __future__ import annotations

import ast

from qlint.model import Value
from qlint.sources.deploy.command_line import commands_in_words
from qlint.sources.deploy.facts import DeployFacts, Deployment, Process
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.shell import Word
from qlint.sources.read import may_start_celery

_SUBCOMMANDS = frozenset({"worker", "beat", "multi"})


def read_python_argv(path: str, data: bytes) -> DeployFacts | None:
    """The celery processes whose command lines the module spells as lists; None when none."""
    if not may_start_celery(data):
        return None
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    processes = []
    for owner, node in _displays(tree):
        words = _words(path, node.elts)
        if words is None:
            continue
        for command in commands_in_words(words, {}):
            where = Located.at(path, owner, node.lineno, node.col_offset + 1)
            processes.append(Process(
                name=owner,
                command=command,
                replicas=Value("default", 1, reason="started by project code, as many times as it runs"),
                span=where.span(0, len(owner)),
            ))
    if not processes:
        return None
    return DeployFacts(path, "python", deployments=[Deployment(path, "python", tuple(processes))])


def _displays(tree: ast.AST):
    """(the name of the function or class around it, the display) for every list or tuple
    display of the module, in source order. A loop, not recursion: a 10,000-term expression
    is 10,000 nodes deep."""
    stack: list[tuple[ast.AST, str]] = [(tree, "<module>")]
    while stack:
        node, owner = stack.pop()
        children = []
        for child in ast.iter_child_nodes(node):
            name = owner
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{owner}.{child.name}" if owner != "<module>" else child.name
            if isinstance(child, (ast.List, ast.Tuple)):
                yield name, child
            children.append((child, name))
        stack.extend(reversed(children))


def _words(path: str, items: list[ast.expr]) -> list[Word] | None:
    """The display's items as command-line words, when they start a celery command."""
    texts = [item.value if isinstance(item, ast.Constant) and isinstance(item.value, str) else None for item in items]
    if not any(text in _SUBCOMMANDS for text in texts):
        return None
    starts = texts[0] is not None and texts[0].rpartition("/")[2] == "celery"
    # sys.executable, "-m", "celery": the interpreter is whatever runs the code
    via_python = len(texts) > 2 and texts[1:3] == ["-m", "celery"]
    if not (starts or via_python):
        return None
    words = []
    for index, (item, text) in enumerate(zip(items, texts)):
        if text is not None:
            words.append(Word(Located.at(path, text, item.lineno, item.col_offset + 2)))
        elif index == 0:
            words.append(Word(Located.at(path, "python", item.lineno, item.col_offset + 1)))
        else:
            try:
                source = ast.unparse(item)
            except RecursionError:
                source = "an expression"
            words.append(Word(Located.at(path, source, item.lineno, item.col_offset + 1),
                              unknown=f"computed in Python ({source})"))
    return words
