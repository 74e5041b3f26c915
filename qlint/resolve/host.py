"""The interface the interpreter defines for what runs around it.

interpreter.py runs a module's statements in a Scope; evaluate.py computes expressions for it;
django.py, flask_config.py, split_settings.py and task_factories.py add what those frameworks
do; workspace.py holds every module's namespace and what running them recorded. They meet
here and nowhere else: the evaluator and the framework readers are written against Frame (a
running scope as they see it) and the interpreter and the readers against Host (the workspace
as they see it), so none of them imports the interpreter or the workspace back. interpreter.Scope
and workspace.Workspace are the implementations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Container, Protocol

from qlint.model import Span, Value
from qlint.resolve.env_reads import Environ, EnvWrite
from qlint.resolve.modules import ModuleIndex
from qlint.resolve.objects import AppObj, ClassObj, ConfRef, FlaskConfig, FuncObj, ModuleRef, TaskObj
from qlint.sources import ir


@dataclass
class ModuleEnv:
    path: str
    name: str
    names: dict[str, Value] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    done: bool = False
    all_names: tuple[str, ...] | None = None
    # Kept apart from names so that branch merging never turns it into a Value.
    failed_imports: list[str] = field(default_factory=list)
    # Names bound to an outside module or symbol by an import statement.
    imported: set[str] = field(default_factory=set)
    # Read while an import cycle was open: some partner may have been half-done.
    in_cycle: bool = False
    # django-split-settings: the file being included (its folder anchors nested includes),
    # the files already included, and why the namespace may hold names qlint did not see.
    including: str | None = None
    included: set[str] = field(default_factory=set)
    opaque: str | None = None
    # Set where code qlint cannot follow may bind names in the module (globals().update(),
    # exec(), a function handed the module): names bound by statements after it are known,
    # data bound before it became unknown, and a name never bound may exist all the same.
    unseen: str | None = None


class Host(Protocol):
    """The workspace, as a running module reads and records in it."""

    index: ModuleIndex
    environ: Environ | None  # what the deployment sets
    load_facts: Callable[[str], ir.ModuleFacts | None]
    envs: dict[str, ModuleEnv]
    apps: list[AppObj]
    tasks: list[TaskObj]
    classes: list[ClassObj]
    environ_writes: list[EnvWrite]
    # A path in a container image, and the file of the repository a Dockerfile puts there.
    image_files: dict[str, str]
    running_functions: set[int]
    ran_functions: set[int]
    task_makers: dict[int, bool]  # task_factories.makes_tasks, by id(FuncDef)
    django_cache: dict[str, Any]  # django.DjangoSettings, by the module the app is in
    quiet: Container[str] | None
    app_users: Container[str]
    notes: list[str]

    def module_env(self, path: str, importer: str | None = None) -> ModuleEnv | None: ...

    def function_with_body(self, func: FuncObj) -> FuncObj | None: ...

    def root_env(self, path: str) -> ModuleEnv | None: ...

    def resolve(self, value: Value, importer: str | None = None) -> Value: ...

    def resolved_names(self, env: ModuleEnv) -> dict[str, Value]: ...

    def resolved_names_of(self, names: dict[str, Value], spans: dict[str, Span], importer: str) -> dict[str, Value]: ...

    def bind_resolved(self, names: dict[str, Value], spans: dict[str, Span], name: str, value: Value,
                      importer: str | None) -> Value: ...


class Evaluating(Protocol):
    """A scope's expression evaluator (evaluate.Evaluator)."""

    def eval(self, expr: ir.Expr) -> Value: ...

    def args(self, expr: ir.Call) -> tuple[list[Value], dict[str, Value], bool]: ...


class Frame(Protocol):
    """A running module, class body or function, as the evaluator and the framework readers
    see it: its names, the conditions it runs under, and what calling things in it does."""

    workspace: Host
    module: ModuleEnv
    names: dict[str, Value]
    spans: dict[str, Span]
    conditions: list[str]
    env_set: dict[str, Value]  # os.environ["X"] = value, run earlier in this frame
    evaluator: Evaluating

    @property
    def module_name(self) -> str: ...

    @property
    def module_path(self) -> str: ...

    def lookup(self, name: str) -> Value | None: ...

    def module_attr(self, ref: ModuleRef, name: str) -> Value | None: ...

    def django_setting(self, name: str, span: Span, missing_ok: bool = False) -> Value | None: ...

    def conf_value(self, app: AppObj, key: str) -> Value | None: ...

    def is_celery_class(self, cls: ClassObj) -> bool: ...

    def new_app(self, expr: ir.Call, subclass: ClassObj | None = None) -> Value: ...

    def call_function(self, func: FuncObj, expr: ir.Call) -> Value | None: ...

    def call_helper(self, func: FuncObj, expr: ir.Call) -> Value | None: ...

    def task_factory(self, func: FuncObj, expr: ir.Call) -> Value | None: ...

    def app_method(self, obj: AppObj | ConfRef, name: str, expr: ir.Call) -> Value: ...

    def new_flask_app(self, expr: ir.Call) -> Value: ...

    def flask_config_call(self, config: FlaskConfig, name: str, expr: ir.Call) -> Value: ...

    def flask_config_key(self, config: FlaskConfig, key: Value, span: Span) -> Value: ...

    def flask_config_value(self, config: FlaskConfig, span: Span) -> Value: ...

    def include_settings(self, expr: ir.Call) -> Value: ...
