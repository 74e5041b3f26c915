"""What a call does to a database transaction, read from its shape: a write (Django ORM,
SQLAlchemy session, raw SQL), a commit or rollback, or the opening of a transaction scope
(`transaction.atomic()`, `session.begin()`, `transaction.manager`, pyramid_tm's `request.tm`).

Writes fall in two kinds. An ORM write (Django's save/create/update/delete, a model form's
or serializer's save, a raw cursor write) commits at once in autocommit mode: it stays
uncommitted only inside a transaction scope. A session write (SQLAlchemy's add,
merge, delete, a write statement executed on a session) stays uncommitted until the session
or the transaction manager commits, scope or not. A flush is no write of its own: it sends
what an add or a changed attribute left pending (services flush before a query that only reads).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qlint.semantics.callsites import Context, render
from qlint.model import Span
from qlint.sources import ir

SESSION = "session"
ANY_ORM = "orm:*"  # in a scope's slots: every ORM write is inside it (SQLAlchemy and zope scopes)

_ORM_ALWAYS = frozenset({"get_or_create", "update_or_create", "bulk_create", "bulk_update"})
# Django manager and queryset methods: a chain through one of these is a query of a model.
_QUERYSET = frozenset({
    "objects", "_default_manager", "_base_manager", "filter", "exclude", "all", "select_for_update",
    "select_related", "prefetch_related", "only", "defer", "order_by", "annotate", "using", "db_manager",
    "distinct", "none",
})
# What a view, serializer, form or model admin's own base method writes when an override calls it.
_SUPER_WRITES = frozenset({
    "save", "create", "update", "partial_update", "delete", "destroy", "perform_create", "perform_update",
    "perform_destroy", "save_model", "delete_model", "save_related", "save_formset", "bulk_create", "bulk_update",
})
_SESSION_WRITES = frozenset({
    "add", "add_all", "merge", "bulk_save_objects", "bulk_insert_mappings", "bulk_update_mappings",
})
_SQL_WRITE = re.compile(r"\s*(insert|update|delete|merge|upsert|replace)\b", re.I)
_SQLALCHEMY_DML = frozenset({"insert", "update", "delete"})
_SESSION_NAMES = frozenset({"db", "dbsession", "sess", "dbsess"})


@dataclass(frozen=True)
class Write:
    """A database write: where, as written, and the transaction slot that holds it until commit:
    `session`, or `orm:<alias>` for the Django connection it goes to."""

    span: Span
    text: str
    slot: str
    model: str | None = None


@dataclass(frozen=True)
class ScopeOpen:
    """A transaction scope a with-item or decorator opens.

    slots: what it holds uncommitted (`orm:default`, or ANY_ORM and SESSION for a session or
    transaction-manager scope); commits: whether leaving it commits (begin_nested does not)."""

    span: Span
    why: str
    slots: frozenset[str]
    commits: bool = True


def _attr_chain(expr: ir.Expr) -> list[str]:
    """The attribute and called names along a receiver chain, outermost last:
    `Order.objects.filter(x).update` -> ["Order", "objects", "filter", "update"]."""
    names: list[str] = []
    for _ in range(32):
        if isinstance(expr, ir.Attr):
            names.append(expr.attr)
            expr = expr.value
        elif isinstance(expr, ir.Call):
            expr = expr.func
        elif isinstance(expr, ir.Sub):
            expr = expr.value
        else:
            break
    if isinstance(expr, ir.Name):
        names.append(expr.id)
    return names[::-1]


def _last_name(expr: ir.Expr) -> str:
    if isinstance(expr, ir.Call):
        expr = expr.func
    if isinstance(expr, ir.Attr):
        return expr.attr
    if isinstance(expr, ir.Name):
        return expr.id
    return ""


def _is_super(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and expr.func.id == "super"


def session_like(ctx: Context, expr: ir.Expr) -> bool:
    """A receiver that names an ORM session (`db.session`, `self.session`, `request.db`,
    `Session()`, `get_session()`): not an HTTP session (`request.session`, flask's `session`)."""
    name = _last_name(expr).lower()
    if not (name.endswith("session") or name.strip("_") in _SESSION_NAMES):
        return False
    chain = _attr_chain(expr)
    if len(chain) >= 2 and chain[-1] == "session" and chain[-2] == "request":
        return False
    return not (isinstance(expr, ir.Name) and ctx.qualname(expr) == "flask.session")


def _alias(expr: ir.Expr | None) -> str:
    """The Django database alias a `using` argument names; 'default' when absent."""
    if expr is None or (isinstance(expr, ir.Const) and expr.value in (None, "default")):
        return "default"
    if isinstance(expr, ir.Const):
        return str(expr.value)
    return "expr:" + render(expr)


def _write_alias(call: ir.Call) -> str:
    """The alias an ORM write goes to: its `using=`, or a `.using(x)`/`.db_manager(x)` in the chain."""
    using = call.kwarg("using")
    if using is not None:
        return _alias(using)
    expr: ir.Expr = call.func
    for _ in range(32):
        if isinstance(expr, ir.Attr):
            expr = expr.value
        elif isinstance(expr, ir.Call):
            if isinstance(expr.func, ir.Attr) and expr.func.attr in ("using", "db_manager") and expr.args:
                return _alias(expr.args[0])
            expr = expr.func
        else:
            break
    return "default"


def _positional(call: ir.Call) -> list[ir.Expr]:
    return [a for a in call.args if not isinstance(a, ir.Starred)]


def _false(expr: ir.Expr | None) -> bool:
    return isinstance(expr, ir.Const) and expr.value is False


def _sql_text(expr: ir.Expr) -> str | None:
    if isinstance(expr, ir.Const) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ir.FStr) and expr.parts and isinstance(expr.parts[0], str):
        return expr.parts[0]
    if isinstance(expr, ir.Call) and _last_name(expr.func) == "text" and expr.args:
        return _sql_text(expr.args[0])
    return None


def _writing_statement(ctx: Context, expr: ir.Expr) -> bool:
    """`insert(T)...`, `update(T).where(...)`, `T.delete()`, `text("UPDATE ...")`, "INSERT ..."."""
    text = _sql_text(ctx.follow(expr))
    if text is not None:
        return _SQL_WRITE.match(text) is not None
    chain = _attr_chain(ctx.follow(expr))
    return any(name in _SQLALCHEMY_DML for name in chain) and "select" not in chain


def _model_of(ctx: Context, expr: ir.Expr) -> str | None:
    """The model class a write's receiver names: `Order` in `Order.objects.create(...)`, in
    `order.save()` after `order = Order(...)` or `order = Order.objects.get(...)`."""
    expr = ctx.follow(expr)
    chain = _attr_chain(expr)
    if "objects" in chain:
        index = chain.index("objects")
        return chain[index - 1] if index else None
    if isinstance(expr, ir.Call) and isinstance(expr.func, (ir.Name, ir.Attr)):
        name = _last_name(expr.func)
        return name if name[:1].isupper() else None
    return None


def classify_write(ctx: Context, call: ir.Call) -> Write | None:
    """The write a call makes, or None. Only shapes that write whatever the receiver is
    count: `cache.delete(key)`, `data.update(...)` or `image.save(path)` are not writes."""
    func = call.func
    if not isinstance(func, ir.Attr):
        return None
    method, receiver = func.attr, func.value
    text = render(func) + "()"
    chain = _attr_chain(ctx.follow(receiver))
    positional = _positional(call)
    if session_like(ctx, receiver):
        if method in _SESSION_WRITES or (method == "delete" and positional) or (
                method == "execute" and positional and _writing_statement(ctx, positional[0])):
            model = _model_of(ctx, positional[0]) if method in ("add", "merge") and positional else None
            return Write(call.span, text, SESSION, model)
    if method in ("update", "delete"):
        model = _session_query(ctx, receiver)
        if model is not None:
            return Write(call.span, text, SESSION, model or None)
    if method == "execute" and positional and "cursor" in _last_name(receiver).lower() \
            and _writing_statement(ctx, positional[0]):
        return Write(call.span, text, "orm:" + _alias(None))
    if method == "execute" and positional and _last_name(receiver).lower() in ("conn", "connection") \
            and _writing_statement(ctx, positional[0]):
        return Write(call.span, text, SESSION)
    if _is_super(receiver):
        return Write(call.span, text, "orm:default") if method in _SUPER_WRITES else None
    slot = "orm:" + _write_alias(call)
    if method in _ORM_ALWAYS:
        return Write(call.span, text, slot, _model_of(ctx, receiver))
    if method in ("create", "update") and any(name in _QUERYSET for name in chain):
        if method == "update" and positional:
            return None
        return Write(call.span, text, slot, _model_of(ctx, receiver))
    if method == "save" and not positional and not _false(call.kwarg("commit")):
        return Write(call.span, text, slot, _model_of(ctx, receiver))
    if method == "delete" and not positional and not _false(call.kwarg("save")):
        return Write(call.span, text, slot, _model_of(ctx, receiver))
    return None


def _session_query(ctx: Context, receiver: ir.Expr) -> str | None:
    """For a query that `.update()`/`.delete()` is called on: the model it is of ("" when not
    known) if it is an ORM session's query (`session.query(M).filter(...)`, Flask-SQLAlchemy's
    `M.query.filter_by(...)`), else None."""
    expr = receiver
    for _ in range(32):
        if isinstance(expr, ir.Call):
            func = expr.func
            if isinstance(func, ir.Attr) and func.attr == "query" and session_like(ctx, func.value):
                return _last_name(expr.args[0]) if expr.args else ""
            expr = func.value if isinstance(func, ir.Attr) else func
        elif isinstance(expr, ir.Attr):
            if expr.attr == "query" and isinstance(expr.value, ir.Name) and expr.value.id[:1].isupper():
                return expr.value.id
            expr = expr.value
        elif isinstance(expr, ir.Sub):
            expr = expr.value
        else:
            break
    return None


_NOT_A_COMMIT = re.compile(r"^on_|after|before|hook|savepoint|callback", re.I)


def ends_transaction(call: ir.Call) -> bool:
    """A commit or a rollback: `session.commit()`, `transaction.commit()`, `request.tm.commit()`,
    a project helper named after committing (`commit_changes()`), `rollback()`, `abort()` on
    a transaction. Either way nothing written before stays pending for a task sent after."""
    name = _last_name(call.func)
    lowered = name.lower()
    if "commit" in lowered:
        return _NOT_A_COMMIT.search(name) is None
    if lowered in ("rollback", "abort") and isinstance(call.func, ir.Attr):
        receiver = _last_name(call.func.value).lower()
        return receiver.endswith("session") or receiver in ("transaction", "tm", "manager", "conn", "connection")
    return False


_ATOMIC = frozenset({"django.db.transaction.atomic"})


def atomic_alias(ctx: Context, expr: ir.Expr) -> str | None:
    """The alias of `transaction.atomic`, `atomic()`, `atomic(using=...)`, `atomic("replica")`, or None."""
    target = expr.func if isinstance(expr, ir.Call) else expr
    if ctx.qualname(target) not in _ATOMIC:
        return None
    if not isinstance(expr, ir.Call):
        return "default"
    using = expr.kwarg("using")
    if using is None and expr.args and not isinstance(expr.args[0], ir.Starred):
        using = expr.args[0]
    return _alias(using)


def scope_opened(ctx: Context, item: ir.Expr) -> ScopeOpen | None:
    """The transaction scope a with-item opens, if it is one qlint knows by its shape."""
    alias = atomic_alias(ctx, item)
    if alias is not None:
        return ScopeOpen(item.span, "the transaction opens here", frozenset({"orm:" + alias}))
    if isinstance(item, ir.Call) and isinstance(item.func, ir.Attr) and item.func.attr in ("begin", "begin_nested"):
        receiver = item.func.value
        name = _last_name(receiver).lower()
        if session_like(ctx, receiver) or "engine" in name or (ctx.qualname(receiver) or "").startswith("sqlalchemy"):
            nested = item.func.attr == "begin_nested"
            return ScopeOpen(item.span, "the session's transaction opens here (it commits when the block ends)"
                             if not nested else "a savepoint opens here", frozenset({ANY_ORM, SESSION}), not nested)
    if isinstance(item, ir.Attr) and item.attr == "tm":
        return ScopeOpen(item.span, "the request's transaction (pyramid_tm) is open here; it commits when the "
                         "block ends", frozenset({ANY_ORM, SESSION}))
    if ctx.qualname(item) == "transaction.manager":
        return ScopeOpen(item.span, "the transaction manager's transaction opens here; it commits when the "
                         "block ends", frozenset({ANY_ORM, SESSION}))
    return None


_LOADERS = frozenset({"get", "query", "scalars", "scalar", "execute", "get_one", "one", "one_or_none", "first",
                      "scalar_one", "scalar_one_or_none", "all", "filter", "filter_by", "where", "order_by", "limit",
                      "with_for_update", "options", "unique"})


def loaded_model(ctx: Context, expr: ir.Expr) -> str | None:
    """The model whose rows an expression loads through an ORM session, where changing an
    attribute of what it returns is a write at the next flush: `session.get(M, id)`,
    `session.query(M).filter(...).first()`, `session.scalars(select(M)...)`, Flask-SQLAlchemy's
    `M.query.get(id)`."""
    for _ in range(32):
        if not isinstance(expr, ir.Call) or not isinstance(expr.func, ir.Attr) or expr.func.attr not in _LOADERS:
            break
        func = expr.func
        if session_like(ctx, func.value) and expr.args:
            first = expr.args[0]
            if func.attr in ("get", "query", "get_one") and isinstance(first, ir.Name) and first.id[:1].isupper():
                return first.id
            return _selected(first)
        receiver = func.value
        if isinstance(receiver, ir.Attr) and receiver.attr == "query" and isinstance(receiver.value, ir.Name) \
                and receiver.value.id[:1].isupper():
            return receiver.value.id
        expr = receiver
    return None


def _selected(expr: ir.Expr) -> str | None:
    """M in `select(M).where(...)...`."""
    for _ in range(32):
        if not isinstance(expr, ir.Call):
            return None
        if isinstance(expr.func, ir.Name) and expr.func.id == "select":
            first = expr.args[0] if len(expr.args) == 1 else None
            return first.id if isinstance(first, ir.Name) and first.id[:1].isupper() else None
        expr = expr.func.value if isinstance(expr.func, ir.Attr) else expr.func
    return None
