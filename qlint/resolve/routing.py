"""The queue a task's messages go to, as celery/app/routes.py decides it.

Router.route: the task's own ``queue`` option (and a call's) beats every route; then
the routers of ``task_routes`` are asked in order (a dict maps a name or a glob to
options or to a queue name; functions and dotted router paths are not evaluated);
then ``task_default_queue``.
"""
from __future__ import annotations

import fnmatch

from qlint.model import Span, Value, unknown
from qlint.resolve.resolved import App, Task


def queue_of(task: Task, app: App) -> Value:
    own = task.options.get("queue")
    if own is not None:
        return _queue_name(own, own.origin)
    routes = app.setting("task_routes")
    if routes.status not in ("known", "default"):
        return unknown("task_routes cannot be read", routes.origin)
    routers = routes.value
    if routers is None:
        routers = ()
    elif isinstance(routers, dict):
        routers = (routers,)
    if not isinstance(routers, (list, tuple)):
        return unknown("task_routes is not a dict or a list of dicts", routes.origin)
    for router in routers:
        if not isinstance(router, dict):
            return unknown("task_routes has a router qlint does not evaluate", routes.origin)
        route = _lookup(router, task.name)
        if route is not None:
            origin = _item_origin(routes, task.name) or routes.origin
            return _queue_name(Value("known", route, origin), origin)
    default = app.setting("task_default_queue")
    return _queue_name(default, default.origin)


def _lookup(router: dict, name: str) -> object | None:
    if name in router:
        return router[name]
    for pattern, route in router.items():
        if isinstance(pattern, str) and "*" in pattern and fnmatch.fnmatchcase(name, pattern):
            return route
    return None


def _item_origin(routes: Value, name: str) -> Span | None:
    item = routes.item(name)
    return item.origin if item is not None else None


def _queue_name(value: Value, origin: Span | None) -> Value:
    if value.status not in ("known", "default", "env-default"):
        return unknown(value.reason or "the queue cannot be read", origin)
    route = value.value
    if isinstance(route, dict):
        route = route.get("queue")
    if isinstance(route, str) and route:
        return Value(value.status, route, origin)
    return unknown("the route names no queue qlint can read", origin)


def beat_queues(task: Task, app: App) -> list[Value] | None:
    """Where beat sends the task: per beat_schedule entry of it, the queue of its options, which
    beats the routes (Router.route merges the call's options over the route), else the task's
    routed queue. Empty when no entry names it; None when beat_schedule cannot be read."""
    tables = app.setting("beat_schedule").possible()
    if not tables or not all(isinstance(t.value, dict) for t in tables):
        return None
    found: list[Value] = []
    for table in tables:
        for entry in table.value.values():
            if not isinstance(entry, dict) or entry.get("task") != task.name:
                continue
            options = entry.get("options")
            queue = options.get("queue") if isinstance(options, dict) else None
            if isinstance(options, dict) and queue is None and ("exchange" in options or "routing_key" in options):
                return None
            found.append(Value("known", queue, table.origin) if isinstance(queue, str) else queue_of(task, app))
    return found
