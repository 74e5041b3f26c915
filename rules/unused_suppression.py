"""QL009: a suppression comment that silences no finding."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding
from qlint.resolve.project import Project
from qlint.rule import Example, Rule

_APP = '''from celery import Celery

app = Celery("proj")
app.config_from_object("proj.celeryconfig")
'''


def _project(settings: str, **more: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": settings, **more}


class UnusedSuppression(Rule):
    code = "QL009"
    name = "unused-suppression"
    severity = "warning"
    # Not part of the default selection: `--report-unused-ignores`, or its code selected in full
    # (`--extend-select QL009`, `extend-select = ["QL009"]`), turns it on.
    status = "opt-in"
    # Judged once the other rules' findings have met the comments (engine.check).
    after_suppressions = True
    summary = "A suppression comment that silences no finding (opt-in: `--report-unused-ignores` or `--extend-select QL009`)."
    what = """
A `# qlint: ignore[...]` comment (or a bare `# qlint: ignore`), or a `# noqa: ...` comment naming a QL
code, on a line where no finding of the codes or names it lists is reported, in a Python file or any
deployment file qlint reads (compose, Kubernetes, Procfile, shell, `.env`, systemd, supervisord, TOML).
A bare `# noqa`, and a `# noqa` naming only other linters' codes (`E501`), are left alone: they may be
there for other tools. A file with `# qlint: skip-file` is not judged.

The rule is off by default. `qlint check --report-unused-ignores`, or QL009 selected by its full code
(`--extend-select QL009`, or `extend-select = ["QL009"]` in `[tool.qlint]`), turns it on. A comment is
judged against the findings of every stable rule, whatever else is selected, so a comment that silences
a rule you `--ignore` still counts as used.
"""
    why = """
A suppression outlives the code it was written for. Once the hazard is fixed (the visibility timeout
raised, the limit lowered), the comment stays, and it silently hides the next finding of the same code
on that line, which may be a new hazard that nobody reviewed.
"""
    example = """
```python
# The time limit was lowered to 20 minutes, so QL101 no longer fires here,
# but the comment would hide it again if the limit grew back.
task_time_limit = 1200  # qlint: ignore[QL101]
```
"""
    fix = """
Remove the comment, or narrow it to the codes that are still reported on that line.
"""
    fix_safety = "Safe: removing a comment that silences nothing changes no finding and no behaviour."
    invalid = (
        Example(_project('broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\n'
                         'task_time_limit = 1200  # qlint: ignore[QL101]\n'),
                note="the 20 min limit is below Redis' 1 h visibility timeout: nothing to silence"),
        Example(_project('broker_url = "redis://localhost:6379/0"\n'
                         'task_acks_late = True  # noqa: E501, QL101\n'),
                note="a noqa naming a QL code among other linters' codes"),
        Example(_project('broker_url = "redis://localhost:6379/0"\n',
                         **{"docker-compose.yml": "services:\n  worker:\n"
                                                  "    command: celery -A proj worker -c 2  # qlint: ignore[QL401]\n"}),
                note="a comment in a compose file, on a worker with no long task"),
    )
    valid = (
        Example(_project('broker_url = "redis://localhost:6379/0"\n'
                         'task_acks_late = True  # qlint: ignore[QL101]\n'
                         'task_time_limit = 7200\n'),
                note="the comment silences QL101's finding on its line"),
        Example(_project('broker_url = "redis://localhost:6379/0"\n'
                         'task_acks_late = True  # qlint: ignore[late-ack-visibility-timeout]\n'
                         'task_time_limit = 7200\n'),
                note="a rule named by its name", config={"ignore": ["QL1"]}),
        Example(_project('broker_url = "redis://localhost:6379/0"  # noqa\n'
                         'task_acks_late = False  # noqa: E501\n'),
                note="a bare noqa and one for another linter"),
        Example(_project('task_time_limit = 1200  # qlint: ignore[QL101]\n'
                         '# qlint: skip-file\n'),
                note="a skipped file is not judged"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        # The suppression pass (qlint/user_config/suppress.py) has matched every finding to the comments
        # and left here those that matched none.
        yield from getattr(project, "unused_suppressions", ())
