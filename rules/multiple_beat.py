"""QL503: more than one beat scheduler runs at the same time."""
from __future__ import annotations

from typing import Iterable

from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.workers import CeleryProcess
from qlint.rule import Example, Rule

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_FILES = {"proj/__init__.py": "", "proj/celery.py": _APP, "proj/celeryconfig.py": ""}
# Schedulers that hold a lock (in Redis) so that only one instance sends: RedBeat, celery-beatx.
LOCKING_SCHEDULERS = ("redbeat", "beatx")


def _locking(name: str) -> bool:
    return any(marker in name.lower() for marker in LOCKING_SCHEDULERS)


class MultipleBeat(Rule):
    code = "QL503"
    name = "multiple-beat"
    severity = "error"
    summary = "More than one beat scheduler runs at once: every periodic task is sent once per scheduler."
    what = """
In one deployment (a compose file with one set of profiles, a Procfile, a Kubernetes manifest file, a
supervisord or systemd file), the processes that run beat — `celery beat` services and workers started
with `-B` — add up to more than one: several beat processes, a beat service with `replicas` above 1, a
`-B` worker with replicas or a HorizontalPodAutoscaler, unless the scheduler takes a lock (RedBeat,
celery-beatx). Alternative deployments (compose profiles, a Procfile beside a compose file) are not added
up.
"""
    why = """
Beat keeps no shared state by default: each scheduler reads the schedule and sends every due task on its
own, so with two of them each periodic task runs twice — reports are mailed twice, invoices charged twice.
django-celery-beat's DatabaseScheduler shares the schedule but not a lock, so it does not help. Celery
refuses `-B` only on Windows; nothing stops a `-B` worker from being scaled out.
"""
    example = """
```yaml
services:
  worker:
    command: celery -A proj worker -B
    deploy:
      replicas: 3          # three workers, three schedulers
```
"""
    fix = """
Run beat as exactly one dedicated process (`celery -A proj beat`, replicas 1, no autoscaling) and drop
`-B` from workers, or use a scheduler with a lock such as RedBeat.
"""
    fix_safety = "No automatic fix: where beat runs is a deployment decision."
    scenarios = ()
    invalid = (
        Example({**_FILES, "docker-compose.yml":
                 "services:\n  worker:\n    command: celery -A proj worker -B\n    deploy:\n      replicas: 3\n"},
                note="a -B worker with three replicas"),
        Example({**_FILES, "docker-compose.yml":
                 "services:\n  worker:\n    command: celery -A proj worker -B\n"
                 "  beat:\n    command: celery -A proj beat\n"},
                note="a beat service and a -B worker in the same file"),
        Example({**_FILES, "Procfile": "beat: celery -A proj beat -S django_celery_beat.schedulers:DatabaseScheduler\n"
                                       "worker: celery -A proj worker --beat\n"},
                note="the database scheduler takes no lock"),
    )
    valid = (
        Example({**_FILES, "docker-compose.yml":
                 "services:\n  worker:\n    command: celery -A proj worker\n    deploy:\n      replicas: 3\n"
                 "  beat:\n    command: celery -A proj beat\n"}),
        Example({**_FILES, "docker-compose.yml":
                 "services:\n  beat-dev:\n    command: celery -A proj beat\n    profiles: [dev]\n"
                 "  beat-prod:\n    command: celery -A proj beat\n    profiles: [prod]\n"},
                note="compose profiles are alternatives"),
        Example({**_FILES, "Procfile": "beat: celery -A proj beat\n",
                 "docker-compose.yml": "services:\n  beat:\n    command: celery -A proj beat\n"},
                note="a Procfile and a compose file are alternative ways to ship the app"),
        Example({**_FILES, "docker-compose.yml":
                 "services:\n  worker:\n    command: celery -A proj worker -B --scheduler redbeat.RedBeatScheduler\n"
                 "    deploy:\n      replicas: 3\n"},
                note="RedBeat holds a lock in Redis"),
        Example({**_FILES, "docker-compose.yml":
                 "services:\n  worker:\n    command: celery -A proj worker -B\n    deploy:\n      replicas: ${N}\n"},
                note="replicas from a variable set nowhere: unknown"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        view = project.deployment
        if view is None:
            return
        seen: set[tuple] = set()
        for group in view.groups():
            beats = [p for p in group if p.runs_beat]
            if not beats or any(not self._scheduler_known(p) for p in beats):
                continue
            beats = [p for p in beats if not _locking(str(p.setting("beat_scheduler").value))]
            count = self._count(beats)
            if count is None or count < 2:
                continue
            key = tuple(sorted((p.file, p.span) for p in beats))
            if key in seen:
                continue
            seen.add(key)
            yield self._finding(beats, count)

    @staticmethod
    def _scheduler_known(process: CeleryProcess) -> bool:
        value = process.setting("beat_scheduler")
        return value.status in ("known", "default") and isinstance(value.value, str)

    @staticmethod
    def _count(beats: list[CeleryProcess]) -> float | None:
        """How many schedulers run; inf when one is autoscaled; None when unknown."""
        total = 0.0
        for process in beats:
            if process.process.autoscaled:
                high = process.process.autoscaled_max
                if high is None or high.status != "known" or not isinstance(high.value, int) or high.value > 1:
                    return float("inf")
            replicas = process.process.replicas
            if replicas.status not in ("known", "default") or not isinstance(replicas.value, int):
                return None
            total += replicas.value
        return total

    def _finding(self, beats: list[CeleryProcess], count: float) -> Finding:
        first = beats[0]
        span = _where(first)
        how = str(int(count)) if count != float("inf") else _autoscaled(beats)
        related = []
        for process in beats:
            flag = process.option("beat") if process.kind == "worker" else None
            at = flag.flag_span if flag is not None else process.span
            if at != span:
                related.append(Related(at, f"{process.kind} {process.name!r} runs beat" + (" (-B)" if flag else "")))
        return self.finding(
            f"{how} beat schedulers run together in {first.file} ({', '.join(repr(p.name) for p in beats)}): "
            "each sends every periodic task, so each runs once per scheduler",
            span, related,
            Fix("run beat as one dedicated process with replicas 1 and drop -B from workers, or use a locking scheduler (RedBeat)"),
            depends_on=[p.file for p in beats],
        )


def _where(process: CeleryProcess) -> Span:
    """Where a beat process is multiplied: its replicas, its autoscaler, its -B, its command."""
    replicas: Value = process.process.replicas
    if replicas.status == "known" and replicas.origin and isinstance(replicas.value, int) and replicas.value > 1:
        return replicas.origin
    high = process.process.autoscaled_max
    if process.process.autoscaled and high is not None and high.origin is not None:
        return high.origin
    flag = process.option("beat") if process.kind == "worker" else None
    return flag.flag_span if flag is not None else process.span


def _autoscaled(beats: list[CeleryProcess]) -> str:
    highs = [p.process.autoscaled_max for p in beats if p.process.autoscaled]
    if highs and all(h is not None and h.status == "known" and isinstance(h.value, int) for h in highs):
        return f"up to {sum(h.value for h in highs) + sum(p.process.replicas.value for p in beats if not p.process.autoscaled)} (autoscaled)"
    return "an autoscaled number of"
