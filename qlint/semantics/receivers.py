"""Signal receivers and the model instance their signals hand them.

Django's model signals call each receiver with keyword arguments, the saved or deleted
object as `instance` (django/db/models/signals.py: pre_save, post_save, pre_delete,
post_delete, m2m_changed, post_init); MongoEngine's signals (blinker) name it `document`;
SQLAlchemy's mapper events pass it third, as `target` (mapper, connection, target). A
function is a receiver when it is decorated as one (`@receiver(post_save, sender=Order)`,
`@signal.connect`, `@signal.connect_via(Order)`, `@event.listens_for(Order, "after_insert")`),
connected by a call qlint reads (`post_save.connect(handler, sender=Order)`,
`event.listen(Order, "after_update", handler)`), or has a receiver's signature
`(sender, instance, **kwargs)`, which Django requires and which the AppConfig.ready()
that connects it (not read: it names nothing Celery) does not change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from qlint.semantics.callsites import Context, calls, render
from qlint.resolve.objects import FuncObj
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.project import Project

DJANGO_RECEIVER = frozenset({"django.dispatch.receiver", "django.dispatch.dispatcher.receiver"})
SQLALCHEMY_LISTENS_FOR = frozenset({"sqlalchemy.event.listens_for", "sqlalchemy.event.api.listens_for"})
SQLALCHEMY_LISTEN = frozenset({"sqlalchemy.event.listen", "sqlalchemy.event.api.listen"})
# Mapper events called with (mapper, connection, target).
MAPPER_EVENTS = frozenset({
    "before_insert", "after_insert", "before_update", "after_update", "before_delete", "after_delete",
})
# The keyword a signal hands its instance under.
INSTANCE_NAMES = ("instance", "document")


def instance_parameter(ctx: Context, func: ir.FuncDef, name: str) -> str | None:
    """When parameter `name` of func receives the instance of the signal func receives: how
    to say so ("the instance post_save hands its receiver"); else None. ctx is where func is
    defined."""
    signal = _signal_of(ctx, func)
    if signal is None:
        return None
    kind, label = signal
    positional = [p.name for p in func.params if p.kind in ("posonly", "pos")]
    if kind == "mapper":
        if len(positional) >= 3 and positional[2] == name:
            return f"the instance the {label} event hands its listener"
        return None
    if name in INSTANCE_NAMES:
        return f"the instance {label} hands its receiver"
    return None


def instance_keyword(ctx: Context, func: ir.FuncDef) -> str | None:
    """How to describe `kwargs["instance"]` in func, when func is a Django or blinker receiver."""
    signal = _signal_of(ctx, func)
    if signal is None or signal[0] == "mapper":
        return None
    return f"the instance {signal[1]} hands its receiver"


def _signal_of(ctx: Context, func: ir.FuncDef) -> tuple[str, str] | None:
    """("signal" | "mapper", how to name the signal) when func is a receiver."""
    for decorator in func.decorators:
        found = _decorator_signal(ctx, decorator)
        if found is not None:
            return found
    connected = _connected(ctx.project).get(id(func))
    if connected is not None:
        return connected
    params = func.params
    if params and params[0].name == "sender" and any(p.kind == "varkw" for p in params) \
            and any(p.name in INSTANCE_NAMES for p in params):
        return "signal", "the signal"
    return None


def _decorator_signal(ctx: Context, decorator: ir.Expr) -> tuple[str, str] | None:
    if isinstance(decorator, ir.Call):
        callee = decorator.func
        qualname = ctx.qualname(callee)
        if qualname in DJANGO_RECEIVER and decorator.args:
            signals = decorator.args[0]
            if isinstance(signals, ir.Coll) and signals.elts:  # @receiver([pre_save, post_delete], ...)
                return "signal", " or ".join(render(signal) for signal in signals.elts)
            return "signal", render(signals)
        if qualname in SQLALCHEMY_LISTENS_FOR and len(decorator.args) >= 2:
            event = decorator.args[1]
            if isinstance(event, ir.Const) and event.value in MAPPER_EVENTS:
                return "mapper", event.value
            return None
        if isinstance(callee, ir.Attr) and callee.attr in ("connect", "connect_via"):
            return "signal", render(callee.value)
        return None
    if isinstance(decorator, ir.Attr) and decorator.attr == "connect":
        return "signal", render(decorator.value)
    return None


def _connected(project: "Project") -> dict[int, tuple[str, str]]:
    """Functions connected to a signal by a call qlint reads, by id of their FuncDef."""
    key = "receivers.connected"
    if key not in project.derived:
        found: dict[int, tuple[str, str]] = {}
        for ctx, call in calls(project):
            callee = call.func
            if isinstance(callee, ir.Attr) and callee.attr == "connect":
                handler = call.args[0] if call.args else call.kwarg("receiver")
                signal = ("signal", render(callee.value))
            elif isinstance(callee, ir.Attr) and callee.attr == "listen" and ctx.qualname(callee) in SQLALCHEMY_LISTEN \
                    and len(call.args) >= 3:
                event = call.args[1]
                if not (isinstance(event, ir.Const) and event.value in MAPPER_EVENTS):
                    continue
                handler, signal = call.args[2], ("mapper", event.value)
            else:
                continue
            if handler is None:
                continue
            obj = ctx.resolve(handler)
            if isinstance(obj, FuncObj):
                found.setdefault(id(obj.func), signal)
        project.derived[key] = found
    return project.derived[key]

