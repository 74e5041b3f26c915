"""The non-data things a resolved name can stand for while a module is interpreted.

Plain data (numbers, strings, dicts...) travels inside Value.value as Python
values; everything else — modules, external symbols, Celery apps, classes,
functions, tasks — is one of these objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qlint.model import Span, Value
from qlint.sources import ir


class Unset:
    """Marks a name or setting that a branch leaves unset (Celery's default then applies)."""

    _instance: "Unset | None" = None

    def __new__(cls) -> "Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unset>"


UNSET = Unset()


@dataclass(frozen=True)
class ModuleRef:
    """A module of the project, by file path."""

    path: str
    name: str


@dataclass(eq=False)
class FlaskConfig:
    """A Flask app's config (qlint.resolve.flask_config): the keys loaded into it so far, and
    why keys qlint did not see may be there."""

    root: str  # the app's root_path, which from_pyfile() reads relative to
    items: dict[str, Value] = field(default_factory=dict)
    unseen: str | None = None
    unseen_at: Span | None = None


@dataclass(eq=False)
class FlaskApp:
    """flask.Flask(...): only its config is modelled."""

    config: FlaskConfig


@dataclass(frozen=True)
class LazyName:
    """`from module import name` of a module with nothing Celery-related in it (no marker of
    sources.read, nothing that uses an imported app): the module is read only when the name
    is used (Workspace.resolve), so that the models, views and helpers a task module imports
    are not all parsed. Such a module defines no task and writes no configuration, so
    reading it later gives the value reading it at once would."""

    path: str
    name: str


@dataclass(frozen=True)
class Sym:
    """Something outside the project, by qualified name: 'os.environ.get', 'celery.Celery'."""

    qualname: str

    def attr(self, name: str) -> "Sym":
        return Sym(f"{self.qualname}.{name}")


@dataclass(frozen=True)
class EnvReader:
    """A django-environ Env instance (with its schema) or python-decouple's config."""

    kind: str  # "environ" | "decouple"
    schema: tuple[tuple[str, Any, Any], ...] = ()  # (variable, cast, default)


@dataclass(frozen=True)
class DynaconfDjango:
    """dynaconf.DjangoDynaconf(__name__, ...): settings files overlay the Django settings module.

    settings_files is None when the call names none (Dynaconf's defaults apply)."""

    settings_files: tuple[str, ...] | None


@dataclass(frozen=True)
class BoundMethod:
    """`obj.method` looked up but not yet called."""

    target: Value
    name: str


@dataclass
class ConfEvent:
    """One write to an app's configuration, in program order."""

    kind: str  # "set" | "item" | "update" | "source" | "namespace" | "opaque-update"
    key: str | None
    value: Value | None
    span: Span
    conditions: tuple[str, ...] = ()
    item: str | None = None  # for app.conf.X[item] = value
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class AppObj:
    """A Celery application constructed somewhere in the project."""

    var: str
    module: str  # file path
    span: Span
    main: Value
    kwargs: dict[str, Value]
    events: list[ConfEvent] = field(default_factory=list)
    subclass: str | None = None
    # Writes made by methods of a project subclass of Celery other than __init__ (init_app()):
    # they happen when the method is called, after the module's own, and only if it is.
    late_events: list[ConfEvent] = field(default_factory=list)

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True)
class ConfRef:
    app: AppObj


@dataclass(eq=False)
class ClassObj:
    name: str
    module: str
    span: Span
    bases: tuple[Value, ...]
    attrs: dict[str, Value]
    attr_spans: dict[str, Span]

    def __hash__(self) -> int:
        return id(self)

    def lookup(self, name: str, seen: frozenset[int] = frozenset()) -> Value | None:
        """An attribute, searched in this class and then its bases (depth first)."""
        if name in self.attrs:
            return self.attrs[name]
        for base in self.bases:
            obj = base.value
            if isinstance(obj, ClassObj) and id(obj) not in seen:
                found = obj.lookup(name, seen | {id(self)})
                if found is not None:
                    return found
        return None

    def all_attrs(self, seen: frozenset[int] = frozenset()) -> dict[str, Value]:
        merged: dict[str, Value] = {}
        for base in reversed(self.bases):
            obj = base.value
            if isinstance(obj, ClassObj) and id(obj) not in seen:
                merged.update(obj.all_attrs(seen | {id(self)}))
        merged.update(self.attrs)
        return merged

    def all_attr_spans(self, seen: frozenset[int] = frozenset()) -> dict[str, Span]:
        """Where each attribute of all_attrs() was assigned."""
        merged: dict[str, Span] = {}
        for base in reversed(self.bases):
            obj = base.value
            if isinstance(obj, ClassObj) and id(obj) not in seen:
                merged.update(obj.all_attr_spans(seen | {id(self)}))
        merged.update(self.attr_spans)
        return merged

    def derives_from(self, qualnames: frozenset[str], seen: frozenset[int] = frozenset()) -> bool:
        for base in self.bases:
            obj = base.value
            if isinstance(obj, Sym) and obj.qualname in qualnames:
                return True
            if isinstance(obj, ClassObj) and id(obj) not in seen and obj.derives_from(qualnames, seen | {id(self)}):
                return True
        return False


@dataclass(eq=False)
class FuncObj:
    func: ir.FuncDef
    module: str

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True)
class TaskDecorator:
    """`app.task`, `shared_task`, or either called with options (a decorator factory)."""

    app: AppObj | None  # None for shared_task
    options: tuple[tuple[str, Value], ...] = ()
    span: Span | None = None
    unknown_options: str | None = None  # reason when **options could not be read


@dataclass(eq=False)
class TaskObj:
    func: ir.FuncDef
    module: str
    decorator: TaskDecorator
    decorator_span: Span

    def __hash__(self) -> int:
        return id(self)


@dataclass(eq=False)
class Closure:
    """A decorator a factory defined and returned, with the scope of the factory's run that
    it reads its options from (`options` in `shared_task(**options)(func)`)."""

    func: FuncObj
    scope: Any  # the interpreter's Scope of the factory's run
