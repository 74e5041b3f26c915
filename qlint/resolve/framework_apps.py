"""Celery apps that a framework builds outside the project.

Some projects define only @shared_task functions and never construct a Celery app: an
extension does it from the Flask configuration. Read in their sources:

- Flask-CeleryExt (flask_celeryext/app.py create_celery_app, used by invenio-celery and
  invenio_app.celery): 0.3 calls `config_from_object(flask_app.config, namespace="CELERY")`
  after copying Celery 3 names to Celery 4 ones; 0.5 maps every CELERY_<NAME> key of the
  Flask config to the Celery name (FLASK_TO_CELERY_MAPPING). Either way Celery reads the
  Flask config under the CELERY namespace.
- invenio-celery (invenio_celery/ext.py init_config) setdefaults its own config module:
  broker and results on Redis, msgpack serializers.
- invenio-config fills the Flask config from the modules of the `invenio_config.module`
  entry points, in the order of their names (entrypoint.py), then from the instance's
  invenio.cfg (a Python file), then lets every INVENIO_<KEY> environment variable override
  <KEY>, its value read with ast.literal_eval (env.py).

The project's configuration modules become the implicit app's source; without them (a
plain Flask-CeleryExt project, whose Flask config qlint does not locate) every setting is
unknown.
"""
from __future__ import annotations

import ast
import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable

from qlint import catalog
from qlint.model import Span, Value, unknown
from qlint.resolve import values as V
from qlint.resolve.config_source import Mapping, SourceInfo, attribute_mapping
from qlint.resolve.objects import UNSET, AppObj, Sym
from qlint.resolve.workspace import Workspace

Reader = Callable[[str], "bytes | None"]

# invenio_celery/config.py, as init_config setdefaults it into the Flask config.
INVENIO_CELERY_DEFAULTS = {
    "CELERY_BROKER_URL": "redis://localhost:6379/0",
    "CELERY_RESULT_BACKEND": "redis://localhost:6379/1",
    "CELERY_ACCEPT_CONTENT": ["json", "msgpack", "yaml"],
    "CELERY_RESULT_SERIALIZER": "msgpack",
    "CELERY_TASK_SERIALIZER": "msgpack",
}

# Modules whose import in the project shows which extension makes the app.
_INVENIO_MODULES = ("invenio_app", "invenio_celery")
_FLASK_MODULES = ("flask_celeryext", "flask_celery")
# Distribution names in dependency files, lower case with "-" (PEP 503).
_INVENIO_DISTS = ("invenio-celery", "invenio-app")
_FLASK_DISTS = ("flask-celeryext", "flask-celery-helper")

_PROJECT_FILES = ("setup.py", "setup.cfg", "pyproject.toml", "requirements.txt", "Pipfile")
# An Invenio instance's own config (invenio_config.utils: <instance path>/<app name>.cfg, a Python file),
# read after the entry points' modules; instances keep it at the top of the repository.
_INSTANCE_CONFIG = "invenio.cfg"
_MAX_BYTES = 1 << 20
# `name = package.module` under the invenio_config.module group, in setup.py, setup.cfg or pyproject.toml.
_GROUP = re.compile(r"""["']?invenio_config\.module["']?\s*[\]:=]""")
_ENTRY = re.compile(r"""["']?([\w.-]+)["']?\s*=\s*["']?([A-Za-z_][\w.]*)(?::[\w.]+)?["']?""")
# The start of another group: `name =` alone (setup.cfg) or `'name': [` (setup.py).
_NEXT_GROUP = re.compile(r"""["']?[\w.-]+["']?\s*(=\s*$|:\s*\[)""")


@dataclass
class FrameworkAppObj(AppObj):
    """An app a framework builds: its configuration source is read here, not from config_from_object."""

    framework: str = ""
    source_info: SourceInfo = field(default_factory=SourceInfo)


def implicit_app(workspace: Workspace, read: Reader | None) -> FrameworkAppObj | None:
    """The app a known extension makes for a project that defines tasks but no app."""
    if workspace.apps or not any(task.decorator.app is None for task in workspace.tasks):
        return None
    texts = _project_texts(workspace, read)
    imported = _imported_app(workspace)
    instance = [(path, Span(path, 1)) for path in _folders_files(workspace, read, _INSTANCE_CONFIG)]
    framework = "invenio" if instance else _framework(workspace, texts)
    if framework is None:
        return None
    entries = _config_entries(texts) if framework == "invenio" else []
    paths = []
    for _, module, span in sorted(entries, key=lambda e: e[0]):
        path = workspace.index.find(module)
        if path is not None:
            paths.append((path, span))
    paths += instance[:1]
    if framework == "invenio" and paths:
        label = "Invenio's Flask config (" + ", ".join(
            p if p.endswith(".cfg") else workspace.index.module_name(p) for p, _ in paths) + ")"
        info = _invenio_source(workspace, paths, label)
    elif framework == "invenio":
        # a library of Invenio modules: the instance that installs it sets everything
        info = SourceInfo("Invenio's Flask config", "unknown", problem=(
            "invenio-celery builds the app from the Flask config, and neither an invenio_config.module entry point "
            "nor an invenio.cfg names a configuration of the project"), mapping=None)
    else:
        info = SourceInfo("the Flask config", "unknown", problem=(
            "Flask-CeleryExt builds the app from the Flask configuration, which qlint does not locate"), mapping=None)
    if imported is not None:
        module, var, span = imported
    elif paths:
        module, var, span = paths[0][0], "celery", paths[0][1]
    else:
        first = next(task for task in workspace.tasks if task.decorator.app is None)
        module, var, span = first.module, "celery", Span(first.module, 1)
    name = {"invenio": "invenio_app.celery:celery"}.get(framework, "flask_celeryext:celery")
    return FrameworkAppObj(var, module, span, Value("known", name), {"namespace": Value("known", "CELERY")},
                           framework=framework, source_info=info)


def _project_texts(workspace: Workspace, read: Reader | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _PROJECT_FILES:
        for path in _folders_files(workspace, read, name):
            data = _read(read, path)
            if data and len(data) <= _MAX_BYTES:
                out[path] = data.decode("utf-8", "replace")
    return out


def _folders_files(workspace: Workspace, read: Reader | None, name: str) -> list[str]:
    """The files called name at the top of the project and beside each setup.py, shallowest first."""
    if read is None:
        return []
    dirs = {""} | {posixpath.dirname(f) for f in workspace.index.named("setup.py")}
    paths = [posixpath.join(folder, name) if folder else name for folder in sorted(dirs, key=lambda d: (d.count("/"), d))]
    return [path for path in paths if _read(read, path)]


def _read(read: Reader | None, path: str) -> bytes | None:
    try:
        return read(path) if read is not None else None
    except OSError:
        return None


def _imported_app(workspace: Workspace) -> tuple[str, str, Span] | None:
    """A module of the project that imports the framework's app (`from invenio_app.celery import celery`)."""
    for path, env in sorted(workspace.envs.items()):
        for name, value in env.names.items():
            raw = value.value if isinstance(value, Value) else None
            if isinstance(raw, Sym) and raw.qualname.split(".")[0] in _INVENIO_MODULES + _FLASK_MODULES \
                    and raw.qualname.rsplit(".", 1)[-1] in ("celery", "app", "celery_app"):
                span = env.spans.get(name) or value.origin or Span(path, 1)
                return path, name, span
    return None


def _framework(workspace: Workspace, texts: dict[str, str]) -> str | None:
    roots = set()
    for env in workspace.envs.values():
        for value in env.names.values():
            raw = value.value if isinstance(value, Value) else None
            if isinstance(raw, Sym):
                roots.add(raw.qualname.split(".")[0])
    deps = "\n".join(texts.values()).lower().replace("_", "-")
    if roots & set(_INVENIO_MODULES) or any(d in deps for d in _INVENIO_DISTS) or _config_entries(texts):
        return "invenio"
    if roots & set(_FLASK_MODULES) or any(re.search(rf"\b{re.escape(d)}\b", deps) for d in _FLASK_DISTS):
        return "flask-celeryext"
    return None


def _config_entries(texts: dict[str, str]) -> list[tuple[str, str, Span]]:
    """The invenio_config.module entry points: (name, module, where)."""
    out = []
    for path, text in texts.items():
        for match in _GROUP.finditer(text):
            first_line = text.count("\n", 0, match.end()) + 1
            for offset, line in enumerate(text[match.end():].split("\n")[:50]):
                body = line.strip()
                if offset and (not body or body.startswith("[") or _NEXT_GROUP.match(body)):
                    break
                for part in re.findall(r"[^,\[\]]+", body):
                    entry = _ENTRY.fullmatch(part.strip())
                    if entry:
                        out.append((entry.group(1), entry.group(2), Span(path, first_line + offset)))
                if offset and "]" in body:
                    break
    return out


def _invenio_source(workspace: Workspace, paths: list[tuple[str, Span]], label: str) -> SourceInfo:
    mapping: Mapping = {key: (Value("default", value, reason="invenio-celery's default (invenio_celery/config.py)"), None)
                        for key, value in INVENIO_CELERY_DEFAULTS.items()}
    unseen = None
    for path, _ in paths:
        env = workspace.root_env(path)
        if env is None or env.opaque is not None:
            reason = env.opaque if env is not None else "it cannot be read"
            return SourceInfo(label, "unknown", path, f"configuration module {path}: {reason}", None)
        mapping.update(attribute_mapping(workspace.resolved_names(env), env.spans, frozenset(env.imported)))
        unseen = unseen or env.unseen
    _environment_overrides(workspace, mapping)
    for key in list(mapping):
        # BROKER_URL beside CELERY_BROKER_URL (invenio-celery's own config sets both): Flask-CeleryExt
        # maps the two to the same setting, and the old spelling is there for Celery 3.
        setting = catalog.from_old_name(key)
        namespaced = catalog.namespaced_key(setting, "CELERY") if setting is not None else key
        if catalog.get(key) is None and namespaced != key and namespaced in mapping:
            del mapping[key]
    return SourceInfo(label, "module", paths[-1][0] if paths else None, mapping=mapping, unseen=unseen)


def _environment_overrides(workspace: Workspace, mapping: Mapping) -> None:
    """INVENIO_<KEY> variables the deployment sets override <KEY> (invenio_config/env.py)."""
    environ = workspace.environ
    if environ is None:
        return
    for variable in sorted(getattr(environ, "definitions", {})):
        if not variable.startswith("INVENIO_") or not variable[8:].startswith(("CELERY_", "BROKER_")):
            continue
        value = environ.value(variable)
        if value is None:
            continue
        key = variable[8:]
        before = mapping.get(key, (Value("default", UNSET), None))[0]
        mapping[key] = (_literal(value, before), value.origin)


def _literal(value: Value, before: Value) -> Value:
    if value.status == "several":
        return V.several([(before if alt.value.value is UNSET else _literal(alt.value, before), alt.condition)
                          for alt in value.alternatives], value.origin)
    if value.status not in ("known", "env-default") or not isinstance(value.value, str):
        return value if value.status != "unknown" else unknown(value.reason or "set in the environment", value.origin)
    try:
        parsed = ast.literal_eval(value.value)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        parsed = value.value
    return Value("known", parsed, value.origin) if V.is_plain(parsed) else value
