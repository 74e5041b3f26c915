"""QL501: the project revokes tasks while no worker keeps its revokes across a restart."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.resolve.workers import workers_of
from qlint.revokes import revokes
from qlint.rule import Example, Rule
from qlint.rules._paths import is_test_path

_APP = 'from celery import Celery\n\napp = Celery("proj")\n'
_CODE = {"proj/__init__.py": "", "proj/celery.py": _APP,
         "proj/views.py": "from proj.celery import app\n\n\ndef cancel(task_id):\n    app.control.revoke(task_id)\n"}


class RevokeNotPersistent(Rule):
    code = "QL501"
    name = "revoke-not-persistent"
    severity = "warning"
    summary = "Tasks are revoked while workers keep revokes only in memory: a restart forgets them and the tasks run."
    what = """
The project calls `revoke()` (on `app.control`, an `AsyncResult`, or a result of `.delay()` /
`.apply_async()`), and every worker of the app found in the deployment files runs without a state db
(`--statedb`/`-S`, or `worker_state_db`). Without deployment files qlint cannot see how workers are
started and stays silent.
"""
    why = """
A revoke is a broadcast that each worker stores in an in-memory set, checked when a message arrives
and before it runs. Workers that start later never heard it, and a worker that restarts — a deploy, an
autoscaler, a crash — forgets it: a revoked task with an ETA, or one still waiting in the queue, runs
after all. The state db (`--statedb`) saves the revoked ids to disk and loads them at start.
"""
    example = """
```python
app.control.revoke(task_id)        # the Procfile runs `celery -A proj worker` without --statedb
```
"""
    fix = """
Start workers with `--statedb=/var/run/celery/%n.state` (a persistent path per node name), or set
`worker_state_db`; for cancellations that must hold, record them in the database and have the task
check.
"""
    fix_safety = "No automatic fix: the state file needs a persistent location per worker."
    scenarios = ("examples/scenarios/revoke-lost-on-restart-bad.yaml", "examples/scenarios/revoke-lost-on-restart-fixed.yaml")
    invalid = (
        Example({**_CODE, "Procfile": "worker: celery -A proj worker\n"}),
    )
    valid = (
        Example({**_CODE, "Procfile": "worker: celery -A proj worker --statedb=/var/run/celery/worker.state\n"}),
        Example(_CODE, note="no deployment files: how workers start is unknown"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "Procfile": "worker: celery -A proj worker\n"},
                note="nothing is revoked"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        calls = [r for r in revokes(project) if not is_test_path(r.ctx.path)]
        if not calls:
            return
        for app in project.apps:
            mine = [r for r in calls if r.app is None or r.app.span == app.defined_at]
            workers = workers_of(project, app)
            if not mine or not workers or len(project.apps) > 1 and any(r.app is None for r in mine):
                continue
            states = [w.setting("worker_state_db") for w in workers]
            if not all(s.status in ("known", "default") and not s.value for s in states):
                continue
            first = mine[0]
            yield self.finding(
                f"tasks of app {app.name!r} are revoked here, but none of its workers keeps a state db "
                f"({', '.join(sorted({w.file for w in workers}))}): a restarted worker forgets the revoke and runs the task",
                first.call.func.span, [Related(w.span, f"worker {w.name!r} starts without --statedb") for w in workers[:5]],
                Fix("start workers with --statedb=<persistent path per node>, or set worker_state_db"),
                depends_on=[w.file for w in workers])
