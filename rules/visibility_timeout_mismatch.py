"""QL106: a visibility timeout that is not the one kombu applies to the broker's messages."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

from qlint.semantics.durations import format_duration
from qlint.model import Finding, Fix, Related, Span, Value
from qlint.resolve.project import Project
from qlint.resolve.resolved import App
from qlint.resolve.workers import workers_of
from qlint.rule import Example, Rule
from qlint.semantics.delivery import Visibility, apps_with_visibility_timeout, related, transport, visibility_timeout
from qlint.semantics.spelling import dict_item, key

_APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'
_BASE = {"proj/__init__.py": "", "proj/celery.py": _APP}
_TWO_APPS = {
    "billing/__init__.py": "", "reports/__init__.py": "",
    "billing/celery.py": 'from celery import Celery\n\napp = Celery("billing", broker="redis://redis:6379/0")\n'
                         'app.conf.broker_transport_options = {"visibility_timeout": 6 * 3600}\n',
    "reports/celery.py": 'from celery import Celery\n\napp = Celery("reports", broker="redis://redis:6379/0")\n',
}
_BOTH_WORKERS = "billing: celery -A billing worker\nreports: celery -A reports worker\n"
# kombu's Redis Channel: the keys every sweep reads, and their defaults.
_KEY_OPTIONS = {"global_keyprefix": "", "unacked_key": "unacked", "unacked_index_key": "unacked_index"}


def _seconds(value: Value | None) -> float | None:
    """A number of seconds when every possible value is the same number."""
    if value is None:
        return None
    options = [v.value for v in value.possible()]
    if not options or any(isinstance(o, bool) or not isinstance(o, (int, float)) for o in options):
        return None
    return float(options[0]) if len(set(options)) == 1 else None


@dataclass(frozen=True)
class _Ignored:
    """A visibility_timeout written where Celery and kombu never read it."""

    where: str
    seconds: float
    span: Span


def _ignored(app: App) -> Iterator[_Ignored]:
    options = app.setting("result_backend_transport_options")
    if options.status == "known" and isinstance(options.value, dict) and "visibility_timeout" in options.value:
        item = options.item("visibility_timeout") or Value("known", options.value["visibility_timeout"], options.origin)
        seconds, span = _seconds(item), item.origin or options.origin
        if seconds is not None and span is not None:
            yield _Ignored("result_backend_transport_options", seconds, span)
    wanted = {"visibility_timeout", f"{app.namespace}_visibility_timeout".lower() if app.namespace else ""}
    for unread in app.unread:
        if unread.key.lower() not in wanted:
            continue
        seconds = _seconds(unread.value)
        if seconds is not None and unread.span is not None:
            yield _Ignored(f"{unread.key} (not a Celery setting)", seconds, unread.span)


def redis_database(url: object) -> tuple[str, ...] | None:
    """What names one Redis database in a broker URL (host, port, db), None when unsure."""
    if isinstance(url, (list, tuple)):
        url = url[0] if len(url) == 1 else None
    if not isinstance(url, str) or ";" in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme in ("redis", "rediss"):
        db = parts.path.strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
        return ("tcp", (parts.hostname or "localhost").lower(), str(port or 6379), db or "0")
    if parts.scheme == "redis+socket":
        return ("socket", parts.path, parse_qs(parts.query).get("virtual_host", ["0"])[0])
    return None


@dataclass(frozen=True)
class _Sweeper:
    """An app whose workers sweep one Redis database's unacked messages with their own timeout."""

    app: App
    database: tuple[str, ...]
    keys: tuple[str, ...]
    vt: Visibility
    worker_span: Span


def _sweepers(project: Project) -> Iterator[_Sweeper]:
    for app in project.apps:
        kind = transport(app, project)
        workers = workers_of(project, app)
        if kind is None or kind.kind != "redis" or kind.assumed or not workers:
            continue
        vt = visibility_timeout(app, "redis")
        keys = _key_names(app.setting("broker_transport_options"))
        brokers = [w.setting("broker_url") for w in workers]  # -b on a command line beats the app's
        urls = {b.value for b in brokers if b.status == "known"}
        if vt is None or keys is None or len(urls) != 1 or any(b.status != "known" for b in brokers):
            continue
        database = redis_database(urls.pop())
        if database is not None:
            yield _Sweeper(app, database, keys, vt, workers[0].span)


def _key_names(options: Value) -> tuple[str, ...] | None:
    """The key names a sweep reads (global_keyprefix, unacked keys), None when unsure."""
    if options.status not in ("known", "default") or not isinstance(options.value, dict):
        return None
    names = []
    for key, default in _KEY_OPTIONS.items():
        value = options.value.get(key, default)
        if not isinstance(value, str):
            return None
        names.append(value)
    return tuple(names)


class VisibilityTimeoutMismatch(Rule):
    code = "QL106"
    name = "visibility-timeout-mismatch"
    severity = "warning"
    summary = "A visibility timeout is set where kombu does not read it, or is cut short by another app on the same Redis database."
    what = """
Two cases, on a broker with a visibility timeout (Redis; SQS for the first case):

- a `visibility_timeout` in `result_backend_transport_options`, or a top-level `visibility_timeout`
  setting (`app.conf.visibility_timeout`, `CELERY_VISIBILITY_TIMEOUT` under the namespace), that is
  longer than the timeout of the broker connection — `broker_transport_options["visibility_timeout"]`,
  else kombu's default (1 h on Redis, 30 min on SQS);
- two apps whose workers (in the deployment files) consume the same Redis database, with the same
  unacked key names, but different visibility timeouts: reported for each app whose timeout is longer
  than the shortest one.

Values must be known numbers on both sides; nothing is reported when one side cannot be resolved, when a
result-backend value is shorter than or equal to the broker's, or, for the second case, when the
deployment files do not show workers of both apps.
"""
    why = """
Only the broker connection's transport options reach kombu's Redis channel: Celery builds broker
connections with `broker_transport_options` (`Celery._connection`), and the channel's
`visibility_timeout` comes from there (kombu/transport/redis.py, `Channel.from_transport_options`). The
Redis result backend talks to Redis through redis-py and never restores messages; it reads a few keys of
`result_backend_transport_options` (`retry_policy`, `global_keyprefix`, `master_name`...) and not this
one. `visibility_timeout` is not a Celery setting at all, so the top-level key is ignored. A longer
value written there only suggests a timeout that is not in effect: unacknowledged messages are still
pushed back after the broker's timeout, and long tasks or countdowns run twice (see QL101, QL104).

The restore sweep (`QoS.restore_visible`) reads one `unacked_index` per Redis database and pushes back
every message delivered more than *its own* `visibility_timeout` ago — whichever app delivered it. When
two apps' workers share a database, the one with the shorter timeout restores the other's messages
early: the shortest timeout among all consumers wins. A different `global_keyprefix` or `unacked_key`
keeps the sets apart. Checked against Celery 5.7 and kombu 5.7; Celery's documentation asks for the value
in all three places, but only the broker's is read.
"""
    example = """
```python
broker_url = "redis://redis:6379/0"
result_backend_transport_options = {"visibility_timeout": 12 * 3600}   # never read
visibility_timeout = 12 * 3600                                          # not a setting
# broker_transport_options has no visibility_timeout: messages come back after 1 h
```
"""
    fix = """
Set the timeout in `broker_transport_options` — the only place kombu reads it — in every app whose
workers share the Redis database, with the same value; or give each app its own database or
`global_keyprefix`. The copies in `result_backend_transport_options` and the top-level key can go.
"""
    fix_safety = "No automatic fix: changing the visibility timeout changes when unacknowledged messages are delivered again."
    invalid = (
        Example({**_BASE, "proj/celeryconfig.py": (
            "broker_url = 'redis://redis:6379/0'\nresult_backend = 'redis://redis:6379/1'\n"
            "result_backend_transport_options = {'visibility_timeout': 12 * 3600}\n")},
            note="the result backend's copy is never read: the Redis default of 1 h applies"),
        Example({"proj/__init__.py": "", "proj/settings.py": (
            "CELERY_BROKER_URL = 'redis://redis:6379/0'\n"
            "CELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 3600}\n"
            "CELERY_VISIBILITY_TIMEOUT = 43200\n"),
            "proj/celery.py": 'import os\nfrom celery import Celery\n\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", '
                              '"proj.settings")\napp = Celery("proj")\napp.config_from_object("django.conf:settings", '
                              'namespace="CELERY")\n'}, note="a top-level key under the Django namespace"),
        Example({**_TWO_APPS, "Procfile": _BOTH_WORKERS},
                note="reports' workers sweep the shared database with the default 1 h"),
    )
    valid = (
        Example({**_BASE, "proj/celeryconfig.py": (
            "broker_url = 'redis://redis:6379/0'\nbroker_transport_options = {'visibility_timeout': 43200}\n"
            "result_backend_transport_options = {'visibility_timeout': 43200}\nvisibility_timeout = 43200\n")},
            note="the broker's own value is the longest"),
        Example({**_BASE, "proj/celeryconfig.py": (
            "broker_url = 'redis://redis:6379/0'\nbroker_transport_options = {'visibility_timeout': 7200}\n"
            "result_backend_transport_options = {'visibility_timeout': 600}\n")},
            note="a shorter result-backend value changes nothing"),
        Example({**_BASE, "proj/celeryconfig.py": (
            "import os\nbroker_url = 'redis://redis:6379/0'\n"
            "broker_transport_options = {'visibility_timeout': int(os.environ['VT'])}\n"
            "result_backend_transport_options = {'visibility_timeout': 43200}\n")},
            note="the broker's timeout cannot be resolved"),
        Example({**_BASE, "proj/celeryconfig.py": (
            "broker_url = 'amqp://rabbit//'\nresult_backend_transport_options = {'visibility_timeout': 43200}\n")},
            note="RabbitMQ has no visibility timeout"),
        Example({**_TWO_APPS, "reports/celery.py": _TWO_APPS["reports/celery.py"].replace("/0", "/1"),
                 "Procfile": _BOTH_WORKERS}, note="different databases"),
        Example({**_TWO_APPS, "Procfile": "billing: celery -A billing worker\n"},
                note="reports only publishes: no worker of it sweeps"),
        Example(dict(_TWO_APPS), note="no deployment files: which apps run workers is unknown"),
    )

    def check(self, project: Project) -> Iterable[Finding]:
        for app, kind, vt in apps_with_visibility_timeout(project):
            if kind.assumed:
                continue
            for ignored in _ignored(app):
                if ignored.seconds > vt.seconds:
                    yield self._ignored_finding(app, kind.kind, kind.origin, vt, ignored)
        yield from self._shared_database(project)

    def _ignored_finding(self, app: App, transport_kind: str, broker_at: Span | None, vt: Visibility,
                         ignored: _Ignored) -> Finding:
        effective = format_duration(vt.seconds)
        found = f"where it is {effective}" if vt.origin is not None else \
            f"which does not set it: the {'SQS' if transport_kind == 'sqs' else transport_kind.capitalize()} default is {effective}"
        message = (
            f"visibility_timeout {format_duration(ignored.seconds)} in {ignored.where} is never read for app "
            f"{app.name!r}: kombu takes the timeout only from broker_transport_options, {found}; unacknowledged "
            f"messages are delivered again after {effective}, not {format_duration(ignored.seconds)}"
        )
        where = related(vt.origin, f"the timeout in effect, {format_duration(vt.seconds)}, set here") if vt.origin else \
            related(broker_at, f"the broker is {transport_kind}, with its default visibility timeout")
        fix = Fix(f"set {dict_item(app, 'broker_transport_options', 'visibility_timeout', str(int(ignored.seconds)))} "
                  "(the only place kombu reads it)")
        return self.finding(message, ignored.span, where, fix, depends_on=[r.span.path for r in where])

    def _shared_database(self, project: Project) -> Iterator[Finding]:
        groups: dict[tuple, list[_Sweeper]] = {}
        for sweeper in _sweepers(project):
            groups.setdefault((sweeper.database, sweeper.keys), []).append(sweeper)
        for members in groups.values():
            shortest = min(members, key=lambda s: s.vt.seconds)
            for sweeper in members:
                if sweeper.vt.seconds > shortest.vt.seconds:
                    yield self._shared_finding(sweeper, shortest)

    def _shared_finding(self, victim: _Sweeper, shortest: _Sweeper) -> Finding:
        app, other = victim.app, shortest.app
        set_where = "set here" if shortest.vt.origin else "(Redis default: nothing sets it)"
        message = (
            f"app {app.name!r} has visibility timeout {format_duration(victim.vt.seconds)}, but the workers of app "
            f"{other.name!r} consume the same Redis database with {format_duration(shortest.vt.seconds)}: their "
            f"restore sweeps push back the unacknowledged messages of {app.name!r} after "
            f"{format_duration(shortest.vt.seconds)}, and they run twice"
        )
        span = victim.vt.origin or app.setting("broker_url").origin or app.defined_at
        spans: list[Related] = related(shortest.vt.origin or other.setting("broker_url").origin or other.defined_at,
                                       f"app {other.name!r}: visibility timeout "
                                       f"{format_duration(shortest.vt.seconds)} {set_where}")
        spans += related(shortest.worker_span, f"a worker of app {other.name!r}")
        fix = Fix(f"give app {other.name!r} the same visibility_timeout in {key(other, 'broker_transport_options')} "
                  f"({int(victim.vt.seconds)}), or a database or global_keyprefix of its own")
        return self.finding(message, span, spans, fix, depends_on=[r.span.path for r in spans])
