"""The project's Python modules: their facts and their namespaces, read lazily (where each
lives: modules.py). The workspace is the interpreter's Host (host.py)."""
from __future__ import annotations

from typing import Callable, Container

from qlint.model import Span, Value, known, unknown
from qlint.resolve.django import DjangoSettings
from qlint.resolve.env_reads import Environ, EnvWrite
from qlint.resolve.host import ModuleEnv
from qlint.resolve.interpreter import Interpreter, Scope
from qlint.resolve.modules import ModuleIndex
from qlint.resolve.objects import AppObj, ClassObj, FuncObj, LazyName, TaskObj
from qlint.sources import ir
from qlint.sources.deploy.facts import DeployFacts

# Modules read inside one another (a star import of a module that star-imports...). Python
# itself stops near 150 (RecursionError at its default limit); the resolver's stack, and the
# parsing of a module it reaches at the bottom of it, must not depend on such a chain.
MAX_IMPORT_DEPTH = 100


class Workspace:
    """Lazily interprets modules on request; collects apps, tasks and classes seen."""

    def __init__(self, files: list[str], load_facts: Callable[[str], ir.ModuleFacts | None],
                 environ: Environ | None = None, index: ModuleIndex | None = None) -> None:
        self.index = index or ModuleIndex(files)
        # Variables the deployment files set: env reads take their value from here.
        self.environ = environ
        # TOML/YAML settings files by path, for Dynaconf's Django extension.
        self.settings_files: dict[str, DeployFacts] = {}
        self.image_files: dict[str, str] = {}
        self.load_facts = load_facts
        self.envs: dict[str, ModuleEnv] = {}
        self.apps: list[AppObj] = []
        self.running_functions: set[int] = set()  # project functions being run (Scope.call_function)
        self.ran_functions: set[int] = set()  # project functions module code called and qlint ran
        self.tasks: list[TaskObj] = []
        self.task_makers: dict[int, bool] = {}  # by id(FuncDef): task_factories.makes_tasks
        self.classes: list[ClassObj] = []
        self.environ_writes: list[EnvWrite] = []
        self.django_cache: dict[str, DjangoSettings] = {}
        self.notes: list[str] = []
        self.reading = 0  # modules being read, one inside another (MAX_IMPORT_DEPTH)
        # Files the pre-filter found nothing Celery-related in: names imported from them
        # are read when used (LazyName). None: every import is read at once.
        self.quiet: Container[str] | None = None
        # Files that name no Celery marker but may act on an app they import (@app.task):
        # read whenever imported, even as `from package import module`.
        self.app_users: Container[str] = frozenset()
        # QL305's second pass: given names of project functions that send tasks (each with words
        # a caller's module must contain, if any), the facts of the modules that call one, with
        # those callers' bodies read (analysis.py sets it).
        self.read_callers: Callable[..., dict[str, ir.ModuleFacts]] = lambda names, wanted=None: {}
        # QL305 following a call made in a transaction: a module's facts with every function
        # body read (a helper in a module with no Celery marker), or those of the top-level
        # class or function holding a line.
        self.read_bodies: Callable[[str, int | None], ir.ModuleFacts | None] = lambda path, line=None: None
        # each module's functions read with their bodies, by place; kept: functions are known by id()
        self._every_body: dict[str, dict[Span, ir.FuncDef]] = {}

    def function_with_body(self, func: FuncObj) -> FuncObj | None:
        """The function read again with its body, where the first reading of its module left
        it out; None where it cannot be read."""
        if func.module not in self._every_body:
            facts = self.read_bodies(func.module)
            self._every_body[func.module] = {node.span: node for node in ir.nodes_until(facts.body, ())
                                             if isinstance(node, ir.FuncDef)} if facts is not None else {}
        found = self._every_body[func.module].get(func.func.span)
        return FuncObj(found, func.module) if found is not None else None

    def resolve(self, value: Value, importer: str | None = None) -> Value:
        """The value a LazyName stands for; any other value as it is."""
        for _ in range(32):
            lazy = value.value
            if not isinstance(lazy, LazyName):
                return value
            env = self.module_env(lazy.path, importer=importer)
            found = env.names.get(lazy.name) if env is not None else None
            if found is None:
                return unknown(f"{self.index.module_name(lazy.path)}.{lazy.name} could not be resolved", value.origin)
            value = found
        return unknown("import chain too long", value.origin)

    def resolved_names(self, env: ModuleEnv) -> dict[str, Value]:
        """A module's namespace with every lazily imported name read."""
        return self.resolved_names_of(env.names, env.spans, env.path)

    def resolved_names_of(self, names: dict[str, Value], spans: dict[str, Span], importer: str) -> dict[str, Value]:
        for name, value in list(names.items()):
            if isinstance(value.value, LazyName):
                self.bind_resolved(names, spans, name, value, importer)
        return names

    def bind_resolved(self, names: dict[str, Value], spans: dict[str, Span], name: str, value: Value,
                      importer: str | None) -> Value:
        lazy = value.value
        resolved = self.resolve(value, importer)
        names[name] = resolved
        if isinstance(lazy, LazyName):
            env = self.envs.get(lazy.path)
            if env is not None and lazy.name in env.spans:
                spans[name] = env.spans[lazy.name]
        return resolved

    def module_env(self, path: str, importer: str | None = None) -> ModuleEnv | None:
        env = self.envs.get(path)
        if env is not None:
            if not env.done and importer is not None:
                self.notes.append(f"import cycle: {importer} imports {path} while it is still being read")
                for other in self.envs.values():
                    other.in_cycle = other.in_cycle or not other.done
            return env
        if self.reading >= MAX_IMPORT_DEPTH:
            return self._too_deep(path, importer)
        facts = self.load_facts(path)
        if facts is None:
            return None
        env = ModuleEnv(path, self.index.module_name(path))
        env.names["__name__"] = known(env.name, None)
        self.envs[path] = env
        if facts.error is None:
            self.reading += 1
            try:
                with ir.deep_recursion():
                    scope = Scope(self, env)
                    Interpreter(scope).run(facts.body)
                    scope.run_uncalled_configurers(facts.body)
            except RecursionError:
                self.notes.append(f"{path}: expressions too deep to evaluate; names bound after that point are unknown")
            except Exception as exc:  # a qlint bug must not stop the analysis of the rest of the tree
                self.notes.append(f"{path}: qlint stopped reading this module ({type(exc).__name__}: {exc}); "
                                  "names bound after that point are unknown - please report this")
            finally:
                self.reading -= 1
        env.done = True
        return env

    def _too_deep(self, path: str, importer: str | None) -> ModuleEnv:
        """A module imported at the bottom of a chain of more than MAX_IMPORT_DEPTH modules: not
        read there (nor kept, so that a shorter chain still reads it); any name may come from it."""
        reason = f"{path} is imported more than {MAX_IMPORT_DEPTH} modules deep, where qlint stops following imports"
        if not any(" imports nest more than " in note for note in self.notes):
            self.notes.append(f"{importer or path}: imports nest more than {MAX_IMPORT_DEPTH} modules deep here ({path} "
                              "is not read; Python itself stops near 150): the names such a module binds are unknown")
        env = ModuleEnv(path, self.index.module_name(path), done=True, unseen=reason)
        env.names["__name__"] = known(env.name, None)
        return env

    def root_env(self, path: str) -> ModuleEnv | None:
        """The module as Python sees it when it is the first one imported (Django imports
        the settings module first): a module read earlier from inside an import cycle
        saw its partners half-done, so the cycle is read again from this end."""
        env = self.module_env(path)
        if env is None or not env.in_cycle:
            return env
        saved = (self.envs, len(self.apps), len(self.tasks), len(self.classes), len(self.environ_writes), len(self.notes))
        self.envs = {p: e for p, e in self.envs.items() if not e.in_cycle}
        try:
            return self.module_env(path)
        finally:
            self.envs, apps, tasks, classes, writes, notes = saved
            del self.apps[apps:], self.tasks[tasks:], self.classes[classes:]
            del self.environ_writes[writes:], self.notes[notes:]
