"""Hover text for a Celery setting name under the cursor: what it is, its default, and its
effective value in each app of the workspace, resolved as `qlint config` does."""
from __future__ import annotations

import re

from qlint import catalog
from qlint.pipeline.analysis import Analysis
from qlint.catalog.descriptions import DESCRIPTIONS
from qlint.report.settings import describe
from qlint.resolve.resolved import TASK_OPTION_DEFAULTS, TASK_OPTION_SETTINGS, Task

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def word_at(line: str, character: int) -> str | None:
    for match in _WORD.finditer(line):
        if match.start() <= character <= match.end():
            return match.group(0)
    return None


def setting_for(word: str, analysis: Analysis | None) -> "catalog.Setting | None":
    namespaces = {app.namespace for app in analysis.project.apps} if analysis is not None else set()
    for namespace in namespaces | {None, "CELERY"}:
        found = catalog.classify(word, namespace)
        if found.setting is not None:
            return found.setting
    return catalog.get(word.lower())


# Keys of broker_transport_options that the delivery rules read.
TRANSPORT_OPTIONS = {
    "visibility_timeout": "Seconds a delivered, unacknowledged message stays hidden on Redis or SQS before it is "
                          "delivered again (kombu's default: 3600 on Redis, 1800 on SQS).",
}


def hover_text(word: str, analysis: Analysis | None, path: str | None = None, line: int = 0) -> str | None:
    """Markdown for the word at (path, line), 1-based; None when it names nothing of Celery's."""
    if word in TRANSPORT_OPTIONS:
        return _transport_option(word, analysis)
    task = _task_decorated_at(analysis, path, line) if word in TASK_OPTIONS else None
    if task is not None:
        return _task_option(word, task)
    setting = setting_for(word, analysis)
    if setting is None:
        return None
    lines = [f"**{setting.name}** (Celery setting, {setting.type})"]
    if setting.name in DESCRIPTIONS:
        lines += ["", DESCRIPTIONS[setting.name]]
    lines += ["", f"Default: `{setting.default!r}`", f"In Django settings: `{setting.django_key}`"]
    if getattr(setting, "old_names", None):
        lines.append(f"Old names: {', '.join(f'`{n}`' for n in setting.old_names)}")
    versions = analysis.project.versions if analysis is not None else None
    if versions is not None:  # the Celery the project installs, and whether it has this setting
        from qlint.catalog import releases

        lines.append(f"Celery {versions.celery.describe()}: {versions.celery.explanation}")
        if releases.lifetime(setting.name) is not None:
            text = releases.lifetime_text(setting.name)
            lines.append(text[0].upper() + text[1:])
    if analysis is not None:
        environ = analysis.project.workspace.environ
        definitions = environ.definitions if environ is not None else {}
        for app in analysis.project.apps:
            shown, where = describe(app.setting(setting.name), definitions)
            lines.append(f"App `{app.name}`: `{shown}` — {where or 'set in code'}")
    return "\n".join(lines)


def _transport_option(key: str, analysis: Analysis | None) -> str:
    lines = [f"**{key}** (broker transport option)", "", TRANSPORT_OPTIONS[key]]
    if analysis is not None:
        for app in analysis.project.apps:
            options = app.setting("broker_transport_options")
            item = options.item(key)
            if item is not None:
                shown, where = describe(item)
                lines.append(f"App `{app.name}`: `{shown}` — {where}")
            else:
                lines.append(f"App `{app.name}`: not set, the transport's default applies")
    return "\n".join(lines)


TASK_OPTIONS = set(TASK_OPTION_SETTINGS) | set(TASK_OPTION_DEFAULTS)


def _task_decorated_at(analysis: Analysis | None, path: str | None, line: int) -> Task | None:
    """The task whose decorator spans this line: an option named there is that task's."""
    if analysis is None or path is None:
        return None
    for task in analysis.project.tasks():
        span = task.decorator_span
        if span.path == path and span.line <= line <= max(span.end_line, span.line):
            return task
    return None


def _task_option(word: str, task: Task) -> str:
    setting = TASK_OPTION_SETTINGS.get(word)
    kind = f"task option; when unset, the app's `{setting}` applies" if setting else "task option"
    lines = [f"**{word}** ({kind})"]
    if setting in DESCRIPTIONS:
        lines += ["", DESCRIPTIONS[setting]]
    shown, where = describe(task.option(word))
    lines += ["", f"Task `{task.name}`: `{shown}` — {where or 'set in code'}"]
    return "\n".join(lines)
