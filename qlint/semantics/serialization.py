"""What the serialization rules share: serializer names and content types (kombu's
registry), reading accept lists, and the task arguments that JSON cannot encode."""
from __future__ import annotations

from dataclasses import dataclass

from qlint.semantics.callsites import TaskCall, arguments, calls, task_calls
from qlint.model import Value
from qlint.semantics.payloads import Carried
from qlint.resolve.project import Project
from qlint.resolve.values import is_plain
from qlint.semantics.delivery import always
from qlint.sources import ir
from qlint.semantics.unencodable import unencodable

# kombu.serialization.registry.name_to_type for the serializers kombu ships.
CONTENT_TYPES = {
    "json": "application/json",
    "pickle": "application/x-python-serialize",
    "yaml": "application/x-yaml",
    "msgpack": "application/x-msgpack",
    "auth": "application/data",  # registered by app.setup_security()
}
PICKLE = frozenset({"pickle", CONTENT_TYPES["pickle"], "application/group-python-serialize"})


def registered_elsewhere(name: str) -> bool:
    """A serializer name kombu does not ship: registered by the project
    (kombu.serialization.register, an entry point) with a content type qlint does not read."""
    return name not in CONTENT_TYPES and "/" not in name


def content_type(name: str) -> str:
    """A serializer name or a content type, as the content type kombu compares."""
    return CONTENT_TYPES.get(name, name)


def names(value: Value) -> list[str] | None:
    """The entries of an accept list when certain (a string counts as one entry); else None."""
    options = value.possible()
    if len(options) != 1:
        return None
    raw = options[0].value
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in raw):
        return list(raw)
    return None


def certain_string(value: Value | None) -> str | None:
    if value is None:
        return None
    options = value.possible()
    texts = {v.value for v in options if isinstance(v.value, str)}
    return texts.pop() if len(texts) == 1 and len(options) == len([v for v in options if isinstance(v.value, str)]) else None


# ---------------------------------------------------------------- arguments JSON cannot encode

_SENDS = frozenset({"delay", "apply_async", "send_task"})
# Calls that teach kombu's JSON serializer new types, or replace it.
_JSON_EXTENSIONS = frozenset({
    "kombu.utils.json.register_type", "kombu.serialization.register", "kombu.serialization.registry.register",
})


@dataclass(frozen=True)
class JsonFailure:
    """An argument of a task call that kombu's JSON serializer refuses, under a JSON serializer."""

    call: TaskCall
    argument: str  # how the argument is named in messages: "`account`", "positional argument 2"
    expr: ir.Expr
    carried: Carried
    serializer: Value  # the value that chooses JSON (no origin: Celery's default)

    @property
    def key(self) -> tuple[str, int, int]:
        return self.expr.span.path, self.expr.span.line, self.expr.span.column


def json_failures(project: Project) -> list[JsonFailure]:
    """Every argument sent as JSON that cannot be encoded (computed once per project)."""
    if "serialization.json_failures" not in project.derived:
        found: list[JsonFailure] = []
        if not _extends_json(project):
            for ctx, call in task_calls(project):
                chosen = _json_serializer(call) if call.method in _SENDS and call.task is not None else None
                if chosen is None:
                    continue
                for argument, expr in arguments(call):
                    carried = unencodable(ctx, expr)
                    if carried is not None:
                        found.append(JsonFailure(call, argument, expr, carried, chosen))
        project.derived["serialization.json_failures"] = found
    return project.derived["serialization.json_failures"]


def _json_serializer(call: TaskCall) -> Value | None:
    """The serializer that decides, when the message is certainly serialized with JSON; else None.

    Task.apply_async passes the task's serializer (its own option, else task_serializer)
    unless the call names one; in Celery 5.7 send_task does the same for a task registered
    in the sending process, and otherwise uses task_serializer or a route's option.
    Under task_always_eager, delay() and apply_async() run the task without serializing.
    """
    task, app = call.task, call.task.app if call.task is not None else None
    if app is None or any(key is None for key, _ in call.call.kwargs):
        return None
    candidates: list[Value] = []
    explicit = call.options.get("serializer") if call.method != "delay" else None
    if explicit is not None:
        if not (isinstance(explicit, ir.Const) and isinstance(explicit.value, str)):
            return None
        candidates.append(Value("known", explicit.value, explicit.span))
    else:
        candidates.append(task.option("serializer"))
        if call.method == "send_task":
            candidates.append(app.setting("task_serializer"))
            if _routes_may_choose_serializer(app.setting("task_routes")):
                return None
    if call.method != "send_task" and not always(app.setting("task_always_eager"), lambda v: not v):
        return None
    if not all(content_type(certain_string(v) or "") == CONTENT_TYPES["json"] for v in candidates):
        return None
    return candidates[0]


def _routes_may_choose_serializer(routes: Value) -> bool:
    if routes.status == "default" or (routes.status == "known" and not routes.value):
        return False
    return routes.status != "known" or not is_plain(routes.value) or "serializer" in repr(routes.value)


def _extends_json(project: Project) -> bool:
    """True when the project registers JSON types or replaces the json serializer."""
    if "serialization.extends_json" not in project.derived:
        project.derived["serialization.extends_json"] = any(
            ctx.qualname(expr.func) in _JSON_EXTENSIONS and _about_json(expr) for ctx, expr in calls(project))
    return project.derived["serialization.extends_json"]


def _about_json(call: ir.Call) -> bool:
    first = call.args[0] if call.args else call.kwarg("name")
    return not (isinstance(first, ir.Const) and isinstance(first.value, str) and first.value != "json")
