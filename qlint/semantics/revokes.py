"""Where the project revokes tasks: `app.control.revoke(...)`, `app.control.terminate(...)`,
`AsyncResult(...).revoke(...)`, `GroupResult.restore(id).revoke()`, `result.revoke()` on what
`.delay()`/`.apply_async()` returned,
`revoke(...)` imported from celery's control module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qlint.semantics.callsites import SENDING, Context, calls
from qlint.resolve.objects import AppObj, Sym
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.project import Project

_RESULT_CLASSES = frozenset({"celery.result.AsyncResult", "celery.result.GroupResult", "celery.result.ResultSet",
                             "celery.AsyncResult"})
_CURRENT_APP = frozenset({"celery.current_app", "celery.app.current_app"})


@dataclass(frozen=True)
class Revoke:
    ctx: Context
    call: ir.Call
    app: AppObj | None  # the app whose control is used, when it is named

    @property
    def terminate(self) -> bool:
        if isinstance(self.call.func, ir.Attr) and self.call.func.attr == "terminate":
            return True  # app.control.terminate(id): a revoke with terminate=True
        value = self.call.kwarg("terminate")
        return isinstance(value, ir.Const) and value.value is True


def revokes(project: "Project") -> list[Revoke]:
    if "revokes" not in project.derived:
        project.derived["revokes"] = [
            found for ctx, expr in calls(project) if (found := _revoke(ctx, expr)) is not None
        ]
    return project.derived["revokes"]


def _revoke(ctx: Context, call: ir.Call) -> Revoke | None:
    func = call.func
    if isinstance(func, ir.Name):
        qualname = ctx.qualname(func)
        return Revoke(ctx, call, None) if qualname in ("celery.app.control.revoke",) else None
    if not isinstance(func, ir.Attr) or func.attr not in ("revoke", "terminate"):
        return None
    receiver = ctx.follow(func.value)
    if isinstance(receiver, ir.Attr) and receiver.attr == "control":
        owner = ctx.resolve(receiver.value)
        if isinstance(owner, AppObj):
            return Revoke(ctx, call, owner)
        if isinstance(owner, Sym) and owner.qualname in _CURRENT_APP:
            return Revoke(ctx, call, None)
        if isinstance(receiver.value, ir.Attr) and receiver.value.attr == "app":  # self.app in a bound task
            return Revoke(ctx, call, None)
        return None
    if isinstance(receiver, ir.Call) and func.attr == "revoke":
        made = receiver.func
        if isinstance(made, ir.Attr) and made.attr in SENDING and ctx.task(made.value) is not None:
            return Revoke(ctx, call, None)
        if isinstance(made, ir.Attr) and made.attr in ("AsyncResult", "GroupResult"):
            return Revoke(ctx, call, None)
        if ctx.qualname(made) in _RESULT_CLASSES:
            return Revoke(ctx, call, None)
        if isinstance(made, ir.Attr) and made.attr == "restore" and ctx.qualname(made.value) in _RESULT_CLASSES:
            return Revoke(ctx, call, None)  # GroupResult.restore(group_id).revoke()
    return None
