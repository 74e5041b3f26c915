"""Where a task's messages go, send by send: what the queue rules share."""
from __future__ import annotations

from qlint.semantics.callsites import task_calls
from qlint.model import Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.resolve.routing import beat_queues, queue_of
from qlint.resolve.resolved import Task
from qlint.sources import ir


def destinations(project: Project, task: Task, app: App) -> list[tuple[Value, Span | None]] | None:
    """The queues the task's messages go to, each with the place that sends them there (None: the
    task's routing): a call's queue= and a beat entry's options beat the routes. A task nothing
    sends goes where its routing says. None when a send's queue cannot be read, or a signature
    is made of the task (a canvas or .set() may give it a queue)."""
    routed = queue_of(task, app)
    out: list[tuple[Value, Span | None]] = []
    calls = _calls_by_task(project).get(id(task), [])
    for call in calls:
        if not call.sends or any(key is None for key, _ in call.call.kwargs):
            return None
        if any(key in call.options for key in ("exchange", "routing_key")):
            return None
        queue = call.options.get("queue")
        if queue is None:
            out.append((routed, None))
        elif isinstance(queue, ir.Const) and isinstance(queue.value, str):
            out.append((Value("known", queue.value, queue.span), queue.span))
        else:
            return None
    beat = beat_queues(task, app)
    if beat is None and not calls:
        return [(routed, None)]
    out.extend((queue, queue.origin if queue is not routed else None) for queue in beat or ())
    return out or [(routed, None)]


def _calls_by_task(project: Project) -> dict[int, list]:
    key = "routing.calls_by_task"
    if key not in project.derived:
        index: dict[int, list] = {}
        for _, call in task_calls(project):
            if call.task is not None:
                index.setdefault(id(call.task), []).append(call)
        project.derived[key] = index
    return project.derived[key]
