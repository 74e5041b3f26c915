"""QL000: a file qlint cannot read or parse."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding
from qlint.resolve.project import Project
from qlint.rule import Example, Rule


class ParseError(Rule):
    code = "QL000"
    name = "parse-error"
    severity = "error"
    summary = "A file cannot be read or parsed, so nothing in it was checked."
    what = """
A Python file that does not parse, a binary file or one in an unknown encoding, or an expression nested
too deeply to analyse; a deployment or settings file that cannot be read: a compose file, Kubernetes
manifest or YAML/TOML settings file with a syntax error, an alias bomb, a binary file named
`docker-compose.yml` or `Procfile`, a file too large. A Helm or Jinja template, which is not YAML until it
is rendered, is skipped with a note instead (`qlint config` lists the notes). The rest of the tree is still
checked. A Python file without any Celery marker (`celery`, `CELERY`, `shared_task`, `.delay(`,
`apply_async`, `send_task`, a signature, `DJANGO_SETTINGS_MODULE`) that does not parse — a Python 2
script, a vendored tool — is reported as a note (severity info), which does not fail `qlint check`.
"""
    why = """
Settings or tasks in a file qlint cannot read are invisible to every other rule: a hazard there goes
unreported, and values that other files import from it are unknown.
"""
    example = """
```python
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = (
```
"""
    fix = "Fix the syntax error (Python itself would refuse the file), or exclude the file in `[tool.qlint] exclude`."
    invalid = (
        Example({"proj/celery.py": "from celery import Celery\napp = Celery(\n"}),
        Example({"proj/settings.py": "CELERY_TASK_ACKS_LATE = True\nif True\n    pass\n"}),
        Example({"proj/celery_tasks.py": "from celery import shared_task\n\x00\x01binary"}),
        Example({"docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker\n    environment: [\n"},
                note="a compose file with a YAML syntax error"),
        Example({"settings.toml": "[production]\nCELERY_BROKER_URL = \n"}, note="invalid TOML settings"),
        Example({"proj/__init__.py": "", "proj/celery.py": 'from celery import Celery\napp = Celery("proj")\n',
                 "scripts/__init__.py": "", "scripts/migrate.py": "import sys\nprint 'usage: migrate.py DB'\n",
                 "proj/tasks.py": "from proj.celery import app\nfrom scripts.migrate import BROKER\n\n"
                                  "app.conf.broker_url = BROKER\n"},
                note="a Python 2 script that mentions no Celery: a note"),
    )
    valid = (
        Example({"proj/celery.py": 'from celery import Celery\napp = Celery("proj")\n'}),
        Example({"proj/settings.py": "# -*- coding: latin-1 -*-\nCELERY_TASK_DEFAULT_QUEUE = 'caf\xe9'\n"}),
        Example({"chart/templates/worker.yaml": "apiVersion: apps/v1\nkind: Deployment\nspec:\n"
                 "  replicas: {{ .Values.replicas }}\n  template: {spec: {containers: [{args: [celery, worker]}]}}\n"},
                note="a Helm template is skipped with a note, not reported"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for problem in getattr(project, "problems", ()):
            if getattr(problem, "celery", True):
                yield self.finding(f"cannot analyse {problem.path}: {problem.message}", problem.span)
            else:
                yield self.finding(f"cannot analyse {problem.path}: {problem.message}; the file mentions no Celery, so "
                                   "this is only a note", problem.span, severity="info")
