"""The static rules run again with the settings live workers report, without a broker: workers
as Celery's `conf`, `stats` and `registered` replies describe them, against a real project."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.live.expectations import from_project
from qlint.live.rabbitmq import DEFAULT_FROM, RabbitQueue, RabbitSnapshot, limits
from qlint.live.rerun import Rerunner, app_of, differing
from qlint.live.workers import LiveWorker
from qlint.rules import all_rules
from qlint.user_config.project_config import find_project_root, load_config

RULES = {r.code: r for r in all_rules()}

APP = '''\
from celery import Celery

app = Celery("proj", broker="redis://cache:6379/0")
app.conf.update(task_acks_late=True, broker_transport_options={"visibility_timeout": 600})


@app.task
def report(day):
    pass
'''

# What the `conf` reply of a worker that runs APP carries (with_defaults: every setting).
CONF = {"broker_url": "redis://cache:6379/0", "task_acks_late": True, "task_time_limit": None,
        "task_soft_time_limit": None, "broker_transport_options": {"visibility_timeout": 600},
        "accept_content": ["json"], "result_expires": "1 day, 0:00:00", "worker_prefetch_multiplier": 4,
        "worker_concurrency": None}


@pytest.fixture(autouse=True)
def in_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths as `qlint inspect` run in the project shows them


def project(tmp_path: Path, source: str = APP, name: str = "proj.py"):
    (tmp_path / name).write_text(source, encoding="utf-8")
    return from_project([str(tmp_path)], None, False, load_config(find_project_root(tmp_path)))


def worker(hostname: str, tasks=("proj.report",), timeouts=(0, None), **conf) -> LiveWorker:
    return LiveWorker(hostname, concurrency=2, prefetch_count=8, conf={**CONF, **conf}, tasks=list(tasks),
                      timeouts=timeouts)


def test_a_worker_that_runs_the_projects_settings_confirms_its_findings(tmp_path):
    expect = project(tmp_path)
    result = Rerunner(expect.project, expect.apps).run([worker("same@host")])
    assert result.findings == [] and result.notes == []
    [confirmed] = result.confirmed["same@host"]
    assert (confirmed.code, str(confirmed.span)) == ("QL102", "proj.py:4")  # where `qlint check` reports it
    # Only what differs is the worker's: a masked password, its concurrency, a timedelta as text.
    assert differing(expect.apps[0], worker("masked@host", broker_url="redis://:********@cache:6379/0")) \
        .keys() == {"worker_concurrency"}


def test_the_settings_only_a_worker_runs_with_are_findings_at_the_worker(tmp_path):
    expect = project(tmp_path)
    drifted = worker("drifted@host", timeouts=(900, 900), accept_content=["json", "pickle"],
                     broker_transport_options={"visibility_timeout": 60})
    bounded = worker("bounded@host", timeouts=(240, 300))  # --time-limit on its command line, not in conf
    twin = LiveWorker("twin@host", drifted.concurrency, drifted.prefetch_count, drifted.conf, tasks=drifted.tasks,
                      timeouts=drifted.timeouts)  # the same values: the rules run once for both
    result = Rerunner(expect.project, expect.apps).run([drifted, bounded, twin])
    found = {(f.code, f.span.path): f for f in result.findings}
    assert set(found) == {(code, f"worker {host}@host") for code in ("QL101", "QL203", "QL402")
                          for host in ("drifted", "twin")}
    late = found[("QL101", "worker drifted@host")]
    assert "may run 15 min (task_time_limit), at or above visibility timeout 1 min" in late.message
    assert "[as drifted@host runs, by the settings it reports: broker_transport_options {'visibility_timeout': 60} " \
           "(the project: {'visibility_timeout': 600}, proj.py:4); task_time_limit 15 min (the project: none, " \
           "Celery's default)]" in late.message
    assert [str(r.span) for r in late.related] == ["proj.py:4"]  # where the rule places it in the project
    assert "accept_content ['json', 'pickle'] (the project: ('json',), Celery's default)" in \
        found[("QL203", "worker drifted@host")].message
    # Its limit of 5 min bounds its tasks below the visibility timeout: the project's QL102 does not hold on it.
    assert result.confirmed == {"drifted@host": [], "bounded@host": [], "twin@host": []}


def test_a_worker_runs_the_app_whose_tasks_it_registers(tmp_path):
    other = APP.replace('"proj"', '"billing"').replace("def report", "def invoice").replace("600", "7200")
    (tmp_path / "billing.py").write_text(other, encoding="utf-8")
    expect = project(tmp_path)
    proj, billing = sorted(expect.apps, key=lambda a: a.name != "proj")
    assert app_of(worker("w", tasks=["billing.invoice"]), expect.apps) is billing
    assert app_of(worker("w", tasks=["proj.report"]), expect.apps) is proj
    assert app_of(worker("w", tasks=[]), expect.apps) is None
    result = Rerunner(expect.project, expect.apps).run([worker("lost@host", tasks=["other.task"])])
    assert result.findings == [] and result.confirmed == {}
    assert result.notes == ["lost@host registers no task of exactly one app of the project (billing, proj): "
                            "the rules were not run with its settings"]


def test_task_time_limits_against_the_consumer_timeout_rabbitmq_does_not_show(tmp_path):
    def snapshot(seconds, origin):
        return RabbitSnapshot("/", "4.0", 0.0, [RabbitQueue("celery", 0, 1, 1, None, seconds, origin)])

    given = snapshot(600, "--consumer-timeout")
    bounded = worker("bounded@host", timeouts=(0, 3600))
    unbounded = worker("unbounded@host")
    early = worker("early@host", timeouts=(0, 3600), task_acks_late=False)
    for w in (bounded, unbounded, early):
        w.queues = ["celery"]
    found = limits([bounded, unbounded, early], given, {}, RULES)
    assert [(f.code, f.span.path, f.severity) for f in found] == [
        ("QL103", "worker bounded@host", "error"), ("QL103", "worker unbounded@host", "warning")]
    assert "hard time limit of 1 h, at or above the consumer timeout of 10 min (--consumer-timeout) of 'celery'" \
        in found[0].message
    # A task's own time limit, on the worker that runs its app.
    expect = project(tmp_path, APP.replace("@app.task", "@app.task(time_limit=7200)"))
    [task] = limits([early], given, {"early@host": expect.apps[0]}, RULES) or [None]
    assert task is None  # acknowledged early on that worker
    [task] = limits([unbounded], given, {"unbounded@host": expect.apps[0]}, RULES)[1:]
    assert task.message.startswith("task proj.report is acknowledged late with a hard time limit of 2 h")
    assert [str(r.span) for r in task.related] == ["proj.py:7"]
    # RabbitMQ's default, which the API does not show: the static QL103 judges the worker's settings instead.
    assert limits([bounded], snapshot(1800, DEFAULT_FROM), {}, RULES) == []


def test_a_worker_runs_with_its_configuration_and_what_its_command_line_sets():
    from qlint.live.workers import _timeouts

    # `conf` shows the app's configuration; `stats` the limits its pool enforces (--time-limit 77),
    # its processes (-c 2) and its prefetch count (--prefetch-multiplier 1).
    started = LiveWorker("w", concurrency=2, prefetch_count=2, timeouts=_timeouts([0, 77.0]),
                         conf={"task_time_limit": None, "worker_prefetch_multiplier": 4, "worker_concurrency": None})
    assert {k: started.settings()[k] for k in ("task_time_limit", "task_soft_time_limit", "worker_concurrency",
                                               "worker_prefetch_multiplier")} == \
        {"task_time_limit": 77.0, "task_soft_time_limit": None, "worker_concurrency": 2,
         "worker_prefetch_multiplier": 1}
    # The solo pool runs tasks in the worker's own thread: it enforces no time limit, whatever its configuration.
    solo = LiveWorker("s", conf={"task_time_limit": 600}, timeouts=_timeouts([]))
    assert solo.settings()["task_time_limit"] is None


def test_the_code_of_the_project_is_judged_by_the_workers_values(tmp_path):
    source = APP.replace("600", "7200").replace("task_acks_late=True, ", "") + \
        "\n\ndef later(day):\n    report.apply_async((day,), countdown=3600)\n"
    expect = project(tmp_path, source)
    short = worker("short@host", broker_transport_options={"visibility_timeout": 600}, task_acks_late=False)
    [eta] = Rerunner(expect.project, expect.apps).run([short]).findings
    assert (eta.code, eta.span.path) == ("QL104", "worker short@host")
    assert eta.message.startswith("report.apply_async(countdown=3600) waits 1 h, at or above visibility timeout 10 min")
    assert [(str(r.span), r.message) for r in eta.related] == [("proj.py:13", "the rule's location in the project")]


def test_a_value_a_deployed_workers_command_line_sets_is_the_projects(tmp_path):
    (tmp_path / "Procfile").write_text("worker: celery -A proj worker --time-limit=7200\n", encoding="utf-8")
    expect = project(tmp_path)
    rerun = Rerunner(expect.project, expect.apps)
    as_deployed = worker("procfile@host", timeouts=(0, 7200))
    other = worker("other@host", timeouts=(0, 3600))
    unbounded = worker("unbounded@host")  # as the app says, which no deployed worker runs
    result = rerun.run([as_deployed, other, unbounded])
    # `qlint check` reports the 2 h limit at the Procfile (and long tasks behind a prefetch of 4, its
    # concurrency being the machine's); a limit of 1 h is the other worker's own, and so is none.
    assert [(f.code, f.span.path) for f in result.findings] == [
        ("QL101", "worker other@host"), ("QL401", "worker other@host"), ("QL102", "worker unbounded@host")]
    assert "[as other@host runs, by the settings it reports: task_time_limit 1 h (the project: worker 'worker': " \
           "2 h, Procfile:1)]" in result.findings[0].message
    assert "task_time_limit none (the project: worker 'worker': 2 h, Procfile:1)" in result.findings[2].message
    assert [f.code for f in result.confirmed["procfile@host"]] == ["QL101", "QL401"]
    assert result.confirmed["unbounded@host"] == []
