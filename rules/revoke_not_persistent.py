"""QL501: the project revokes tasks while no worker keeps its revokes across a restart."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related
from qlint.resolve.project import Project
from qlint.resolve.workers import workers_of
from qlint.semantics.revokes import revokes
from qlint.rule import Example, Rule
from qlint.sources.paths import is_test_path
from qlint.semantics.spelling import key

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
`.apply_async()`), and every worker of the app in one deployment runs without a state db
(`--statedb`/`-S`, or `worker_state_db`). A deployment is what starts workers together: a compose file
with one set of profiles, a Procfile, a Kubernetes manifest file, a supervisord or systemd file, a
Dockerfile's CMD, one command of an entrypoint script (also `celery $ARGUMENTS` with the arguments set in
a variable), one target of a Makefile (`worker:` running `$(CELERY)`). A Procfile whose worker keeps a
state db does not cover a compose file, its alternative, whose workers do not. Without deployment files qlint cannot see how workers are started and stays silent.
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
        Example({**_CODE, "Procfile": "worker: celery -A proj worker --statedb=/var/run/celery/worker.state\n",
                 "docker-compose.yml": "services:\n  worker:\n    command: celery -A proj worker -c 4\n"},
                note="the Procfile keeps revokes, the compose file, an alternative deployment, does not"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP,
                 "proj/tasks.py": "from celery.result import GroupResult\nfrom proj.celery import app\n\n\n"
                                  "def restart(group_id):\n    pending = GroupResult.restore(group_id, app=app)\n"
                                  "    pending.revoke()\n",
                 "Procfile": "worker: celery -A proj worker\n"},
                note="a group restored from its id and revoked"),
    )
    valid = (
        Example({**_CODE, "Procfile": "worker: celery -A proj worker --statedb=/var/run/celery/worker.state\n"}),
        Example(_CODE, note="no deployment files: how workers start is unknown"),
        Example({"proj/__init__.py": "", "proj/celery.py": _APP, "Procfile": "worker: celery -A proj worker\n"},
                note="nothing is revoked"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        calls = [r for r in revokes(project) if not is_test_path(r.ctx.path, project.root)]
        if not calls:
            return
        for app in project.apps:
            mine = [r for r in calls if r.app is None or r.app.span == app.defined_at]
            workers = workers_of(project, app)
            if not mine or not workers or len(project.apps) > 1 and any(r.app is None for r in mine):
                continue
            forgetful = [group for group in _deployments(project, workers) if all(_no_state_db(w) for w in group)]
            if not forgetful:
                continue
            bare = [w for group in forgetful for w in group]
            bare = list({(w.file, w.span): w for w in bare}.values())
            files = sorted({w.file for w in bare})
            whose = "none of its workers keeps a" if len(bare) == len(workers) else \
                f"the workers of {', '.join(files)} keep no"
            first = mine[0]
            yield self.finding(
                f"tasks of app {app.name!r} are revoked here, but {whose} state db"
                + (f" ({', '.join(files)})" if len(bare) == len(workers) else "")
                + ": a restarted worker forgets the revoke and runs the task",
                first.call.func.span, [Related(w.span, f"worker {w.label} starts without --statedb") for w in bare[:5]],
                Fix(f"start workers with --statedb=<persistent path per node>, or set {key(app, 'worker_state_db')}"),
                depends_on=[w.file for w in workers])


def _no_state_db(worker) -> bool:
    state = worker.setting("worker_state_db")
    return state.status in ("known", "default") and not state.value


def _deployments(project: Project, workers: list) -> list[list]:
    """The app's workers grouped by the deployment that starts them together."""
    mine = {id(w) for w in workers}
    groups = [[w for w in group if id(w) in mine] for group in project.deployment.groups()]
    return [g for g in groups if g]

