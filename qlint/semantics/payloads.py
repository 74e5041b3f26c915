"""What a value passed to a task carries: data (file contents, request bodies,
dataframes, model instances, big literals) or a reference (ids, keys, names, paths).

classify() follows the simple assignments of the enclosing function (see
callsites.Context) and answers only when it is sure that a value carries data;
anything it cannot follow is None. Kinds in MODEL_KINDS are Django model instances
and querysets: besides their size, they go stale between sending and running.
"""
from __future__ import annotations

from dataclasses import dataclass

from qlint.semantics.callsites import Context, render
from qlint.model import Span
from qlint.semantics.receivers import INSTANCE_NAMES, instance_keyword, instance_parameter
from qlint.sources import ir

MODEL_KINDS = frozenset({"queryset", "model-instance", "model-instances"})
# Kinds that are data when passed to a task; the others are handles to data (an open
# file, request.FILES, a model manager) that only matter once read. A request body
# (request.data, request.body) is not data by itself: on most endpoints it is a few
# fields of JSON, and handing a webhook's body to a task is the usual design; only the
# uploads it holds (request.FILES, their contents) are.
DATA_KINDS = frozenset({"file-content", "upload", "encoded", "dataframe", "literal"}) | MODEL_KINDS
# Data that string-like transformations (decode, strip, str(), json.dumps...) keep.
_TEXT_KINDS = frozenset({"file-content", "request-body", "encoded", "literal"})

_READ = frozenset({"read", "readlines", "getvalue"})
_TEXT_METHODS = frozenset({"decode", "encode", "strip", "rstrip", "lstrip", "splitlines", "split", "lower", "upper", "replace"})
_BASE64 = frozenset({
    "base64.b64encode", "base64.standard_b64encode", "base64.urlsafe_b64encode", "base64.encodebytes",
    "base64.b32encode", "base64.b16encode", "base64.a85encode", "base64.b85encode", "binascii.b2a_base64",
    "binascii.hexlify", "codecs.encode",
})
_BASE64_ITSELF = frozenset({
    "base64.b64encode", "base64.standard_b64encode", "base64.urlsafe_b64encode", "base64.encodebytes",
    "binascii.b2a_base64",
})
_PASS_THROUGH = frozenset({"json.dumps", "json.loads", "pickle.dumps", "builtins.bytes", "builtins.str", "zlib.compress", "gzip.compress"})
_OPENERS = frozenset({"builtins.open", "io.open", "codecs.open", "gzip.open", "bz2.open", "lzma.open"})
# Readers that take an open file and return what it holds, parsed: its contents all the same.
_FILE_LOADERS = frozenset({
    "json.load", "pickle.load", "marshal.load", "tomllib.load", "toml.load", "yaml.load", "yaml.safe_load",
    "yaml.full_load", "yaml.unsafe_load", "csv.reader", "csv.DictReader",
})
_DATAFRAME_LIBS = ("pandas.", "polars.")
_DATAFRAME_MAKERS = ("read_", "DataFrame", "concat", "json_normalize", "from_records", "from_dict")
_DATAFRAME_SAME = frozenset({
    "head", "tail", "copy", "dropna", "fillna", "reset_index", "sort_values", "drop", "rename", "merge",
    "query", "astype", "assign", "drop_duplicates", "set_index", "join",
})
_DATAFRAME_DUMPS = frozenset({"to_json", "to_dict", "to_csv", "to_records", "to_numpy", "to_string", "to_html", "to_markdown", "tolist",
                              "to_dicts"})
# Dumps whose first argument is a file to write to (they return None then); to_dict("records")
# takes the orient first and always returns the data.
_DATAFRAME_WRITERS = frozenset({"to_json", "to_csv", "to_string", "to_html", "to_markdown"})
# Attributes of a dataframe that are its data too (row and column selections, the array).
_DATAFRAME_VIEWS = frozenset({"loc", "iloc", "values", "T"})
MANAGERS = frozenset({"objects", "_default_manager"})
_QUERYSET = frozenset({
    "all", "filter", "exclude", "order_by", "select_related", "prefetch_related", "distinct", "only", "defer",
    "annotate", "using", "reverse", "none", "values", "select_for_update",
})
_INSTANCE = frozenset({"get", "first", "last", "latest", "earliest", "create"})
_INSTANCE_PAIR = frozenset({"get_or_create", "update_or_create"})
_REQUEST_NAMES = frozenset({"request", "req"})
_FLASK_REQUEST = frozenset({"flask.request", "quart.request"})


@dataclass(frozen=True)
class Carried:
    """What a value carries and where that was produced."""

    kind: str
    what: str  # for messages: "the contents of an uploaded file"
    origin: Span

    @property
    def is_data(self) -> bool:
        return self.kind in DATA_KINDS


def classify(ctx: Context, expr: ir.Expr, literal_limit: int) -> Carried | None:
    """What expr carries when it is data; None for references and for what cannot be told."""
    found = Classifier(ctx, literal_limit).kind(expr, 0)
    return found if found is not None and found.is_data else None


class Classifier:
    """Follows an expression to what it carries; subclasses add or narrow what they recognise."""

    def __init__(self, ctx: Context, limit: int) -> None:
        self.ctx = ctx
        self.limit = limit

    def kind(self, expr: ir.Expr, depth: int) -> Carried | None:
        if depth > 12:
            return None
        method = getattr(self, f"_{type(expr).__name__}", None)
        return method(expr, depth + 1) if method is not None else None

    # ------------------------------------------------------------ names and literals

    def _Name(self, expr: ir.Name, depth: int) -> Carried | None:
        bindings = self.ctx.lookup(expr.id)
        if bindings is None:
            return self._module_literal(expr)
        found = []
        for binding in bindings:
            if binding.kind == "param":
                inner = self._parameter(expr, binding.span)
                if inner is not None:
                    found.append(inner)
                continue
            if binding.value is None or binding.kind not in ("assign", "with", "for"):
                continue
            inner = self.kind(binding.value, depth)
            if inner is None:
                continue
            if binding.kind == "for":
                inner = element_of(inner)
                if inner is None:
                    continue
            found.append(inner)
        # Prefer data over handles when branches disagree.
        return next((c for c in found if c.is_data), found[0] if found else None)

    def _parameter(self, expr: ir.Name, span: Span) -> Carried | None:
        """A parameter that a signal hands the receiver's instance (receivers.py)."""
        owner = _owner(self.ctx, expr.id)
        if owner is None or owner.function is None:
            return None
        said = instance_parameter(owner.outer or owner, owner.function, expr.id)
        if said is None:
            return None
        return Carried("model-instance", f"{said} (`{expr.id}`)", span)

    def _receiver_keyword(self, mapping: ir.Expr, key: ir.Expr | None) -> Carried | None:
        """`kwargs["instance"]` or `kwargs.get("instance")` in a receiver taking `**kwargs`."""
        if not isinstance(mapping, ir.Name) or not isinstance(key, ir.Const) or key.value not in INSTANCE_NAMES:
            return None
        owner = _owner(self.ctx, mapping.id)
        if owner is None or owner.function is None or not any(
                p.name == mapping.id and p.kind == "varkw" for p in owner.function.params):
            return None
        said = instance_keyword(owner.outer or owner, owner.function)
        if said is None:
            return None
        return Carried("model-instance", f"{said} (`{mapping.id}[{key.value!r}]`)", owner.function.span)

    def _module_literal(self, expr: ir.Name) -> Carried | None:
        value = self.ctx.project.module_value(self.ctx.path, expr.id)
        if value is None or value.status != "known":
            return None
        size = _literal_size(value.value)
        if size is not None and size > self.limit:
            return Carried("literal", f"a literal of {_size(size)} ({expr.id})", value.origin or expr.span)
        return None

    def _Const(self, expr: ir.Const, depth: int) -> Carried | None:
        size = _literal_size(expr.value)
        if size is not None and size > self.limit:
            return Carried("literal", f"a literal of {_size(size)}", expr.span)
        return None

    def _Coll(self, expr: ir.Coll, depth: int) -> Carried | None:
        return self._container(expr.elts, expr.span, depth)

    def _DictE(self, expr: ir.DictE, depth: int) -> Carried | None:
        return self._container(tuple(v for _, v in expr.items), expr.span, depth)

    def _container(self, elts: tuple[ir.Expr, ...], span: Span, depth: int) -> Carried | None:
        total = 0
        for elt in elts:
            inner = self.kind(elt, depth)
            if inner is not None and inner.is_data:
                if inner.kind == "model-instance":
                    return Carried("model-instances", f"a collection of model instances ({inner.what})", inner.origin)
                return inner
            if isinstance(elt, ir.Const):
                total += _literal_size(elt.value) or 0
        if total > self.limit:
            return Carried("literal", f"a literal of {_size(total)}", span)
        return None

    def _BinOp(self, expr: ir.BinOp, depth: int) -> Carried | None:
        if expr.op not in ("+", "%"):
            return None
        return self._text(self.kind(expr.left, depth)) or self._text(self.kind(expr.right, depth))

    def _FStr(self, expr: ir.FStr, depth: int) -> Carried | None:
        for part in expr.parts:
            if not isinstance(part, str):
                found = self._text(self.kind(part, depth))
                if found is not None:
                    return found
        return None

    def _IfExp(self, expr: ir.IfExp, depth: int) -> Carried | None:
        return _data_first(self.kind(expr.body, depth), self.kind(expr.orelse, depth))

    def _BoolOp(self, expr: ir.BoolOp, depth: int) -> Carried | None:
        return _data_first(*(self.kind(v, depth) for v in expr.values))

    @staticmethod
    def _text(found: Carried | None) -> Carried | None:
        return found if found is not None and found.kind in _TEXT_KINDS else None

    # ------------------------------------------------------------ attributes and items

    def _Attr(self, expr: ir.Attr, depth: int) -> Carried | None:
        if self._is_request(expr.value):
            if expr.attr == "body":
                return Carried("request-body", f"the request body ({render(expr)})", expr.span)
            if expr.attr in ("data", "stream"):
                return Carried("request-body", f"the request data ({render(expr)})", expr.span)
            if expr.attr in ("FILES", "files"):
                return Carried("uploads", render(expr), expr.span)
            if expr.attr == "user":
                return Carried("model-instance", f"the user model instance ({render(expr)})", expr.span)
            return None
        if expr.attr in MANAGERS and isinstance(expr.value, (ir.Name, ir.Attr)):
            return Carried("manager", render(expr), expr.span)
        base = self.kind(expr.value, depth)
        if base is not None and base.kind == "upload" and expr.attr == "file":
            return base
        if base is not None and base.kind == "dataframe" and expr.attr in _DATAFRAME_VIEWS:
            return base
        return None

    def _Sub(self, expr: ir.Sub, depth: int) -> Carried | None:
        keyword = self._receiver_keyword(expr.value, expr.index)
        if keyword is not None:
            return keyword
        base = self.kind(expr.value, depth)
        if base is None:
            return None
        if base.kind == "uploads":
            return Carried("upload", f"an uploaded file ({render(expr)})", expr.span)
        if base.kind == "queryset":
            return Carried("model-instance", f"a model instance ({render(expr)})", expr.span)
        if base.kind == "dataframe":  # columns or rows of it
            return base
        return None

    def _is_request(self, expr: ir.Expr) -> bool:
        if isinstance(expr, ir.Name):
            if self.ctx.qualname(expr) in _FLASK_REQUEST:
                return True
            return expr.id in _REQUEST_NAMES and self.ctx.lookup(expr.id) is not None
        return isinstance(expr, ir.Attr) and expr.attr == "request" and isinstance(expr.value, ir.Name) and expr.value.id == "self"

    # ------------------------------------------------------------ calls

    def _Call(self, expr: ir.Call, depth: int) -> Carried | None:
        func = expr.func
        qualname = self.ctx.qualname(func)
        if qualname is not None:
            found = self._library_call(qualname, expr, depth)
            if found is not None:
                return found
        if not isinstance(func, ir.Attr):
            return None
        method, receiver = func.attr, func.value
        if method in ("read_text", "read_bytes"):
            return Carried("file-content", f"the contents of a file ({render(expr)})", expr.span)
        if self._is_request(receiver) and method in ("get_data", "read", "get_json"):
            return Carried("request-body", f"the request body ({render(expr)})", expr.span)
        if method == "open" and not expr.args[1:]:
            return Carried("file-handle", render(expr), expr.span)
        if method == "get":
            keyword = self._receiver_keyword(receiver, expr.args[0] if expr.args else None)
            if keyword is not None:
                return keyword
        if method == "join" and isinstance(receiver, ir.Const) and len(expr.args) == 1:
            return self._text(self.kind(expr.args[0], depth))  # b"".join(upload.chunks())
        base = self.kind(receiver, depth)
        if base is None:
            return None
        return self._method(base, method, expr)

    def _library_call(self, qualname: str, expr: ir.Call, depth: int) -> Carried | None:
        first = expr.args[0] if expr.args else None
        if qualname in _OPENERS:
            return Carried("file-handle", render(expr), expr.span)
        if qualname in _FILE_LOADERS and first is not None:
            inner = self.kind(first, depth)
            if inner is not None and inner.kind in ("file-handle", "upload"):
                source = "an uploaded file" if inner.kind == "upload" else "a file"
                return Carried("file-content", f"the contents of {source}, parsed ({render(expr)})", expr.span)
            return None
        if qualname in _BASE64 and first is not None:
            inner = self.kind(first, depth)
            # A body that is base64-encoded before it is handed on holds bytes, not a few fields
            # of JSON: an upload posted as the body itself.
            if inner is not None and (inner.is_data or inner.kind == "request-body"):
                codec = "a base64" if qualname in _BASE64_ITSELF else "an"
                return Carried("encoded", f"{codec} encoding of {inner.what}", expr.span)
            return None
        if qualname in _PASS_THROUGH and first is not None:
            return self._text(self.kind(first, depth))
        if qualname in ("builtins.list", "builtins.tuple", "builtins.sorted", "builtins.set") and first is not None:
            inner = self.kind(first, depth)
            if inner is not None and inner.kind == "queryset":
                return Carried("model-instances", f"a list of model instances ({inner.what})", inner.origin)
            return inner if inner is not None and inner.is_data else None
        if qualname.startswith(_DATAFRAME_LIBS) and qualname.rsplit(".", 1)[-1].startswith(_DATAFRAME_MAKERS):
            return Carried("dataframe", f"a dataframe ({render(expr)})", expr.span)
        if qualname in ("django.shortcuts.get_object_or_404",):
            return Carried("model-instance", f"a model instance ({render(expr)})", expr.span)
        if qualname in ("django.shortcuts.get_list_or_404",):
            return Carried("model-instances", f"a list of model instances ({render(expr)})", expr.span)
        return None

    def _method(self, base: Carried, method: str, expr: ir.Call) -> Carried | None:
        kind = base.kind
        if method in _READ and kind in ("file-handle", "upload") or method == "chunks" and kind == "upload":
            source = "an uploaded file" if kind == "upload" else "a file"
            return Carried("file-content", f"the contents of {source} ({render(expr)})", expr.span)
        if kind == "upload" and method == "open":
            return base
        if kind == "uploads" and method == "get":
            return Carried("upload", f"an uploaded file ({render(expr)})", expr.span)
        if kind == "uploads" and method == "getlist":
            return Carried("upload-list", render(expr), expr.span)
        if method in _TEXT_METHODS and kind in _TEXT_KINDS:
            return base
        if kind == "dataframe":
            if method in _DATAFRAME_SAME:
                return base
            if method in _DATAFRAME_DUMPS and not (method in _DATAFRAME_WRITERS and _writes_to_file(expr)):
                return Carried("dataframe", f"a dump of {base.what} ({render(expr)})", expr.span)
            return None
        if kind in ("manager", "queryset"):
            if method in _QUERYSET:
                return Carried("queryset", f"a queryset ({render(expr)})", expr.span)
            if method in _INSTANCE:
                return Carried("model-instance", f"a model instance ({render(expr)})", expr.span)
            if method in _INSTANCE_PAIR:
                return Carried("model-instance-pair", render(expr), expr.span)
        return None


def _owner(ctx: Context, name: str) -> Context | None:
    """The context whose own names hold `name`: for a parameter, the function's."""
    found: Context | None = ctx
    while found is not None and name not in found.bindings:
        found = found.outer
    return found


def element_of(container: Carried) -> Carried | None:
    """What a loop over container yields."""
    if container.kind in ("queryset", "model-instances"):
        return Carried("model-instance", f"a model instance from {container.what}", container.origin)
    if container.kind == "upload-list":
        return Carried("upload", f"an uploaded file from {container.what}", container.origin)
    if container.kind == "uploads":
        return None  # iterating request.FILES yields field names
    return None


def _writes_to_file(call: ir.Call) -> bool:
    """df.to_csv(path) writes a file and returns None."""
    target = call.args[0] if call.args else call.kwarg("path_or_buf") or call.kwarg("path")
    return target is not None and not (isinstance(target, ir.Const) and target.value is None)


def _data_first(*found: Carried | None) -> Carried | None:
    present = [c for c in found if c is not None]
    return next((c for c in present if c.is_data), present[0] if present else None)


def _literal_size(value: object) -> int | None:
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        sizes = [_literal_size(v) or 0 for v in value]
        return sum(sizes)
    if isinstance(value, dict):
        return sum((_literal_size(k) or 0) + (_literal_size(v) or 0) for k, v in value.items())
    return None


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} bytes"
