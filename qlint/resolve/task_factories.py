"""Project functions and classes that make tasks: factories and decorators around
`app.task` / `shared_task`.

    def job(name, **options):                 # a factory of task decorators
        return app.task(name=name, bind=True, base=JobTask, **options)

    def locked_task(**options):               # a factory returning a decorator it defines
        def decorate(func):
            return shared_task(**options)(func)
        return decorate

    class task_with_lock:                     # a decorator class
        def __call__(self, func):
            return app.task(bind=True)(func)

The interpreter runs such a function where a decorator calls or names it (Scope.task_factory,
Scope.apply_decorator); this module says which functions are worth running, from their code
alone: those that name `.task` or `shared_task`, or call a project function that does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from qlint.resolve.objects import FuncObj
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.host import Host

# How many project functions deep a chain of factories is followed (job -> task -> app.task).
MAX_CHAIN = 3
_TASK_NAMES = frozenset({"task", "shared_task"})


def makes_tasks(func: FuncObj, workspace: "Host", depth: int = 0) -> bool:
    """Whether running the function may make a task or a task decorator."""
    memo = workspace.task_makers
    key = id(func.func)
    if key in memo:
        return memo[key]
    memo[key] = False  # a function that calls itself is decided by its other calls
    env = workspace.envs.get(func.module)
    found = False
    for node in ir.nodes_until(func.func.body, ()):
        kind = type(node)
        if kind is ir.Attr and node.attr in _TASK_NAMES or kind is ir.Name and node.id == "shared_task":
            found = True
            break
        if kind is ir.Call and type(node.func) is ir.Name and depth < MAX_CHAIN and env is not None:
            bound = env.names.get(node.func.id)
            callee = bound.value if bound is not None else None
            if isinstance(callee, FuncObj) and callee.func is not func.func \
                    and makes_tasks(callee, workspace, depth + 1):
                found = True
                break
    memo[key] = found
    return found
