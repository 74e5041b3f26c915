"""A Flask app's config (flask.Config, a dict subclass), as the keys loaded into it.

Projects hand it to Celery whole (`celery.conf.update(app.config)`) or filtered
(`{k[7:].lower(): v for k, v in app.config.items() if k.startswith("CELERY_")}`), so the
settings Celery receives are what flask/config.py loads: from_object() and from_mapping()
keep upper-case keys only; from_pyfile() runs a Python file (of any extension) found
relative to the app's root_path, the folder of the module that made the app, and keeps its
upper-case names; from_envvar() does that for the file an environment variable names;
update(), setdefault() and item writes take any key; from_prefixed_env() adds a key for each
FLASK_* variable of the environment: those the deployment sets, the others taken as unset.
A file named by an absolute path is the file of the repository a Dockerfile copies there;
one loaded only if it exists that qlint cannot read is taken as absent.
"""
from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING

from qlint.model import Span, Value, known, unknown
from qlint.resolve import env_reads
from qlint.resolve import values as V
from qlint.resolve.evaluate import dict_items, make_dict
from qlint.resolve.objects import UNSET, ClassObj, FlaskApp, FlaskConfig, ModuleRef
from qlint.sources import ir

if TYPE_CHECKING:
    from qlint.resolve.host import Frame

WRITES = frozenset({"from_object", "from_mapping", "from_pyfile", "from_envvar", "update", "setdefault", "from_file",
                    "from_prefixed_env"})


def new_app(scope: "Frame", expr: ir.Call) -> Value:
    _, kw, _ = scope.evaluator.args(expr)
    root = kw.get("root_path")
    folder = root.value if root is not None and root.status == "known" and isinstance(root.value, str) \
        else posixpath.dirname(scope.module_path)
    return known(FlaskApp(FlaskConfig(root=folder)), expr.span)


def as_value(config: FlaskConfig, span: Span) -> Value:
    """The config as the dict Celery is given."""
    if config.unseen is not None:
        return unknown(config.unseen, config.unseen_at or span)
    return make_dict(dict(config.items), span)


def read_key(config: FlaskConfig, key: Value, span: Span, default: Value | None = None) -> Value:
    """app.config["KEY"] and app.config.get("KEY", default)."""
    if key.status != "known":
        return unknown("a Flask config key that cannot be read", span)
    if key.value in config.items:
        return config.items[key.value]
    if config.unseen is not None:
        return unknown(config.unseen, config.unseen_at or span)
    if default is not None:
        return default
    return unknown(f"Flask config key {key.value!r} is not set where qlint can see it", span)


def write(scope: "Frame", config: FlaskConfig, key: str, value: Value, span: Span) -> None:
    """One key written, under the conditions the code around it holds."""
    value = V.with_origin(value, value.origin or span)
    if scope.conditions:
        condition = " and ".join(scope.conditions)
        previous = config.items.get(key) or unknown(f"{key} is set in the Flask config only if {condition}", span)
        value = V.several([(value, condition), (previous, f"not ({condition})")], span)
    config.items[key] = value


def call(scope: "Frame", config: FlaskConfig, name: str, expr: ir.Call) -> Value:
    pos, kw, opaque = scope.evaluator.args(expr)
    span = expr.span
    if name == "get" and pos:
        return read_key(config, pos[0], span, pos[1] if len(pos) > 1 else known(None, span))
    if name in ("items", "keys", "values", "copy"):
        return unknown(f"app.config.{name}() is read where it is walked", span)
    if name not in WRITES:
        return unknown(f"app.config.{name}() is not evaluated", span)
    if name == "from_prefixed_env":
        return _from_prefixed_env(scope, config, pos, kw, span)
    if opaque:
        lost(config, f"app.config.{name}() with arguments qlint cannot read", span)
        return known(None, span)
    loaded: dict[str, Value] | None
    if name == "setdefault" and pos:
        if pos[0].status == "known" and isinstance(pos[0].value, str) and pos[0].value not in config.items:
            write(scope, config, pos[0].value, pos[1] if len(pos) > 1 else known(None, span), span)
        return known(None, span)
    if name in ("update", "from_mapping"):
        loaded = {}
        for arg in pos[:1]:
            if arg.status != "known" or not isinstance(arg.value, dict):
                lost(config, f"app.config.{name}() with {arg.reason or 'a value qlint cannot read'}", span)
                return known(None, span)
            loaded.update({str(k): v for k, v in dict_items(arg).items()})
        loaded.update(kw)
        if name == "from_mapping":
            loaded = {k: v for k, v in loaded.items() if k.isupper()}
    elif name == "from_object" and pos:
        loaded = _from_object(scope, config, pos[0], span)
    elif name in ("from_pyfile", "from_envvar") and pos:
        silent = kw.get("silent", pos[1] if len(pos) > 1 else known(False, span))
        optional = bool(scope.conditions) or (silent.status == "known" and silent.value is True)
        loaded = _from_file(scope, config, name, pos[0], span, optional)
    else:
        loaded = None
    if loaded is None:
        return known(None, span)
    for key, value in loaded.items():
        write(scope, config, key, value, span)
    return known(True, span)


def _from_prefixed_env(scope: "Frame", config: FlaskConfig, pos: list[Value], kw: dict[str, Value], span: Span) -> Value:
    """Flask sets a key for each PREFIX_KEY variable (json-decoded where it parses): those the
    deployment sets are written; any other is taken as unset, as os.environ.get() with a default
    is, and the note says so."""
    prefix = pos[0] if pos else kw.get("prefix", known("FLASK", span))
    if prefix.status != "known" or not isinstance(prefix.value, str) or "loads" in kw or len(pos) > 1:
        lost(config, "app.config.from_prefixed_env() with a prefix or decoder qlint cannot read", span)
        return known(None, span)
    start = prefix.value + "_"
    environ = scope.workspace.environ
    names = [n for n in environ.names() if n.startswith(start) and len(n) > len(start)] if environ is not None else []
    for name in names:
        key = name[len(start):]
        if "__" in key:  # FLASK_A__B sets config["A"]["B"]
            lost(config, f"app.config.from_prefixed_env(): {name} sets an item of {key.split('__')[0]}", span)
            continue
        write(scope, config, key, _decoded(env_reads.subscript(name, span, environ)), span)
    sets = f"the deployment sets {', '.join(names)}" if names else "the deployment sets none"
    scope.workspace.notes.append(f"{span}: app.config.from_prefixed_env(): a {start}* variable where the app runs "
                                 f"sets a key of the Flask config; {sets}, and any other is taken as unset")
    return known(None, span)


def _decoded(value: Value) -> Value:
    """A variable's text as from_prefixed_env() stores it: json.loads() of it, else the text."""
    if value.status not in ("known", "env-default") or not isinstance(value.value, str):
        return value
    try:
        decoded = json.loads(value.value)
    except ValueError:
        return value
    return Value(value.status, decoded, value.origin, value.env) if V.is_plain(decoded) else value


def lost(config: FlaskConfig, reason: str, span: Span) -> None:
    if config.unseen is None:
        config.unseen, config.unseen_at = reason, span


def _from_object(scope: "Frame", config: FlaskConfig, source: Value, span: Span) -> dict[str, Value] | None:
    """A module or class, or its import string ("pkg.settings", "pkg.settings.Prod", "pkg.settings:Prod")."""
    obj = source.value if source.status == "known" else None
    if isinstance(obj, str):
        obj = _imported(scope, obj)
    if isinstance(obj, ClassObj):
        spans = obj.all_attr_spans()
        return {key: V.with_origin(value, spans[key]) if key in spans else value
                for key, value in obj.all_attrs().items() if key.isupper()}
    if isinstance(obj, ModuleRef):
        env = scope.workspace.module_env(obj.path)
        if env is not None and env.opaque is None and env.unseen is None:
            return _upper_names(scope, env)
    return _unseen(config, f"app.config.from_object() of {source.reason or 'an object qlint cannot read'}", span)


def _imported(scope: "Frame", name: str) -> ModuleRef | ClassObj | None:
    """What werkzeug's import_string() finds for a name, among the project's modules."""
    module, _, attr = name.partition(":")
    index = scope.workspace.index
    path = index.find(module, scope.module_path)
    if path is None and not attr and "." in name:
        module, attr = name.rsplit(".", 1)
        path = index.find(module, scope.module_path)
    if path is None:
        return None
    if not attr:
        return ModuleRef(path, module)
    env = scope.workspace.module_env(path)
    found = scope.workspace.resolve(env.names[attr], scope.module_path) if env is not None and attr in env.names else None
    return found.value if found is not None and isinstance(found.value, (ClassObj, ModuleRef)) else None


def _upper_names(scope: "Frame", env) -> dict[str, Value]:
    names = scope.workspace.resolved_names(env)
    return {key: V.with_origin(value, env.spans[key]) if key in env.spans else value
            for key, value in names.items() if key.isupper() and not (value.value is UNSET and value.status != "several")}


def _from_file(scope: "Frame", config: FlaskConfig, method: str, arg: Value, span: Span,
               optional: bool = False) -> dict[str, Value] | None:
    """The upper-case names of the file loaded. optional: the app also runs without the file
    (the load is made under a condition such as `if os.path.exists(path):`, or silent=True),
    so one qlint cannot read is taken as absent, as an unset environment variable is, and the
    project's notes say so: an instance file outside the repository (`udata.cfg` in the working
    folder) may override what the repository sets."""
    if optional:
        loaded = _from_file(scope, FlaskConfig(root=config.root), method, arg, span)
        if loaded is None:
            scope.workspace.notes.append(f"{span}: app.config.{method}() may load a file qlint cannot read "
                                         f"({_named(method, arg)}); any key it sets is taken as not set")
        return loaded
    if method == "from_envvar":
        if arg.status != "known" or not isinstance(arg.value, str):
            return _unseen(config, "app.config.from_envvar() of a variable qlint cannot read", span)
        arg = scope.env_set.get(arg.value) or env_reads.subscript(arg.value, span, scope.workspace.environ)
    if arg.status not in ("known", "env-default") or not isinstance(arg.value, str):
        return _unseen(config, f"app.config.{method}() of a file qlint cannot name: {arg.reason or 'unknown'}", span)
    path = posixpath.normpath(posixpath.join(config.root, arg.value))
    if posixpath.isabs(path):  # where the app runs: the file a Dockerfile of the project puts there, if any
        path = scope.workspace.image_files.get(path, path)
    env = scope.workspace.module_env(path) if not posixpath.isabs(path) and not path.startswith("..") else None
    if env is None or env.opaque is not None or env.unseen is not None:
        # silent=True skips a missing file, but one outside the project may exist where the app runs
        return _unseen(config, f"app.config.{method}() loads {arg.value}, which qlint cannot read", span)
    return _upper_names(scope, env)


def _named(method: str, arg: Value) -> str:
    if method == "from_envvar" and arg.status == "known":
        return f"the file ${arg.value} names"
    return repr(arg.value) if arg.status in ("known", "env-default") else (arg.reason or "a path qlint cannot read")


def _unseen(config: FlaskConfig, reason: str, span: Span) -> None:
    lost(config, reason, span)
    return None
