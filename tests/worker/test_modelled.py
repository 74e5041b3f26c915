"""Every key a scenario accepts changes the replay; every other key is refused by name.

The walk covers the scenario schema (every field of every model, nested ones included) and
every Celery setting of every release in qlint's catalog, old names included. A new field or
a newly modelled setting without a probe here fails, and so does a probe whose key changes
nothing: an accepted key that the model ignores cannot slip in."""
from __future__ import annotations

import copy
import json
from typing import Any, Callable, get_args

import pytest
from pydantic import BaseModel

from qlint.catalog import releases as catalog_releases
from qlint.worker import ScenarioError, parse_scenario, simulate
from qlint.worker.modelled import MODELLED_SETTINGS, TRANSPORT_OPTIONS
from qlint.worker.scenario import Scenario

FAST = {"unacked_restore_interval": 1, "unacked_restore_throttle": 1}
BASE: dict[str, Any] = {
    "settings": {"broker_url": "redis://localhost/0", "broker_transport_options": {"visibility_timeout": 5, **FAST}},
    "workers": [{"name": "w1", "concurrency": 1}],
    "tasks": {"long": {"duration": 12}, "short": {"duration": 1}},
    "submit": [{"at": 0, "task": "long", "id": "L"}, {"at": 1, "task": "short", "count": 2, "every": 1}],
    "until": 40,
}
Patch = Callable[[dict], None]


def _chain(s: dict) -> None:
    s["tasks"]["short"]["returns"] = 7
    s["submit"] = [{"at": 0, "chain": [{"task": "short"}, {"task": "short", "args": [1]}]}]


def _chord(s: dict) -> None:
    s["submit"] = [{"at": 0, "chord": {"header": [{"task": "short"}, {"task": "short"}], "body": {"task": "short"}}}]


def _late_limited(s: dict) -> None:
    s["settings"]["task_acks_late"] = True
    s["tasks"]["long"]["time_limit"] = 4


def _late_failing(s: dict) -> None:
    s["settings"]["task_acks_late"] = True
    s["tasks"]["long"]["fails"] = True


def _kill_late(s: dict) -> None:
    s["settings"]["task_acks_late"] = True
    s["faults"] = [{"at": 2, "kill": "w1/1"}]


def _kill_retried(s: dict) -> None:
    s["faults"] = [{"at": 2, "kill": "w1/1"}]
    s["tasks"]["long"]["retry_on_worker_lost"] = True


def _statedb_restart(s: dict) -> None:
    s["faults"] = [{"at": 2, "revoke": "t3"}, {"at": 3, "stop": "w1"}, {"at": 14, "restart": "w1"}]
    s["submit"].append({"at": 4, "task": "short", "id": "x"})


def _amqp(s: dict) -> None:
    s["settings"] = {"broker_url": "amqp://localhost//", "task_acks_late": True}


def _two_queues(s: dict) -> None:
    s["workers"] = [{"name": "w1", "concurrency": 1, "queues": ["celery"]},
                    {"name": "w2", "concurrency": 1, "queues": ["long"]}]


def _set(path: str, value: Any) -> Patch:
    def patch(s: dict) -> None:
        *parents, last = path.split(".")
        node: Any = s
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    return patch


def _both(*patches: Patch) -> Patch:
    def patch(s: dict) -> None:
        for p in patches:
            p(s)
    return patch


def _none(s: dict) -> None:
    pass


# "Model.field" -> (context, change): the replay of context(BASE) and of change(context(BASE)) differ.
FIELD_PROBES: dict[str, tuple[Patch, Patch]] = {
    "Scenario.settings": (_none, _set("settings.task_acks_late", True)),
    "Scenario.workers": (_none, lambda s: s["workers"].append({"name": "w2"})),
    "Scenario.tasks": (_none, _set("tasks.long", {"duration": 3})),
    "Scenario.submit": (_none, lambda s: s["submit"].append({"task": "short", "at": 30})),
    "Scenario.faults": (_none, _set("faults", [{"at": 2, "kill": "w1"}])),
    "Scenario.until": (_none, _set("until", 20)),
    "Scenario.seed": (_set("tasks.short.duration", {"min": 1, "max": 5}), _set("seed", 1)),
    "Scenario.rabbitmq_consumer_timeout": (_amqp, _set("rabbitmq_consumer_timeout", 5)),
    "Scenario.celery": (_both(_late_limited, _set("settings.task_acks_on_failure_or_timeout", False)),
                        _set("celery", "5.4")),
    "WorkerSpec.name": (_none, _set("workers.0.name", "w9")),
    "WorkerSpec.concurrency": (_none, _set("workers.0.concurrency", 2)),
    "WorkerSpec.prefetch_multiplier": (_none, _set("workers.0.prefetch_multiplier", 1)),
    "WorkerSpec.statedb": (_statedb_restart, _set("workers.0.statedb", "w1.db")),
    "WorkerSpec.start": (_none, _set("workers.0.start", 5)),
    "WorkerSpec.queues": (_none, _set("workers.0.queues", ["other"])),
    "TaskSpec.queue": (_two_queues, _set("tasks.long.queue", "long")),
    "WorkerSpec.disable_prefetch": (_none, _set("workers.0.disable_prefetch", True)),
    "WorkerSpec.without_mingle": (_none, _set("workers.0.without_mingle", True)),
    "WorkerSpec.optimization": (_set("workers.0.concurrency", 2), _set("workers.0.optimization", "fcfs")),
    "TaskSpec.duration": (_none, _set("tasks.long.duration", 2)),
    "TaskSpec.returns": (_chain, _set("tasks.short.returns", 8)),
    "TaskSpec.fails": (_none, _set("tasks.long.fails", True)),
    "TaskSpec.params": (_none, _set("tasks.long.params", 2)),
    "TaskSpec.bind": (_both(_set("tasks.short.fails", True), _set("tasks.long.params", 3),
                            _set("submit.1.link_error", {"task": "long"})), _set("tasks.long.bind", True)),
    "TaskSpec.payload_bytes": (_none, _set("tasks.long.payload_bytes", 1000)),
    "TaskSpec.payload_kind": (_both(_set("tasks.long.payload_bytes", 10_000), _set("settings.task_compression", "zlib")),
                              _set("tasks.long.payload_kind", "random")),
    "TaskSpec.acks_late": (_none, _set("tasks.long.acks_late", True)),
    "TaskSpec.time_limit": (_none, _set("tasks.long.time_limit", 3)),
    "TaskSpec.soft_time_limit": (_none, _set("tasks.long.soft_time_limit", 3)),
    "TaskSpec.on_soft_limit": (_set("tasks.long.soft_time_limit", 3), _set("tasks.long.on_soft_limit", "catch")),
    "TaskSpec.acks_on_failure_or_timeout": (_late_limited, _set("tasks.long.acks_on_failure_or_timeout", False)),
    "TaskSpec.acks_on_failure": (_late_failing, _set("tasks.long.acks_on_failure", False)),
    "TaskSpec.acks_on_timeout": (_late_limited, _set("tasks.long.acks_on_timeout", False)),
    "TaskSpec.retry_on_worker_lost": (_set("faults", [{"at": 2, "kill": "w1/1"}]),
                                      _set("tasks.long.retry_on_worker_lost", True)),
    "TaskSpec.max_retries": (_kill_retried, _set("tasks.long.max_retries", 0)),
    "TaskSpec.default_retry_delay": (_kill_retried, _set("tasks.long.default_retry_delay", 5)),
    "TaskSpec.autoretry": (_set("tasks.long.fails", True), _set("tasks.long.autoretry", True)),
    "TaskSpec.retry_backoff": (_both(_set("tasks.long.fails", True), _set("tasks.long.autoretry", True)),
                               _set("tasks.long.retry_backoff", 1)),
    "TaskSpec.retry_backoff_max": (_both(_set("tasks.long.fails", True), _set("tasks.long.autoretry", True),
                                         _set("tasks.long.retry_backoff", 4), _set("tasks.long.retry_jitter", False)),
                                   _set("tasks.long.retry_backoff_max", 1)),
    "TaskSpec.retry_jitter": (_both(_set("tasks.long.fails", True), _set("tasks.long.autoretry", True),
                                    _set("tasks.long.retry_backoff", 4)), _set("tasks.long.retry_jitter", False)),
    "TaskSpec.reject_on_worker_lost": (_kill_late, _set("tasks.long.reject_on_worker_lost", True)),
    "DurationRange.min": (_set("tasks.long.duration", {"min": 2, "max": 2}), _set("tasks.long.duration.min", 1)),
    "DurationRange.max": (_set("tasks.long.duration", {"min": 2, "max": 2}), _set("tasks.long.duration.max", 3)),
    "Step.task": (_chain, _set("submit.0.chain.1.task", "long")),
    "Step.args": (_chain, _set("submit.0.chain.1.args", [2])),
    "Step.immutable": (_chain, _set("submit.0.chain.1.immutable", True)),
    "Chord.header": (_chord, _set("submit.0.chord.header", [{"task": "long"}])),
    "Chord.body": (_chord, _set("submit.0.chord.body", {"task": "long"})),
    "Submit.at": (_none, _set("submit.0.at", 3)),
    "Submit.task": (_none, _set("submit.0.task", "short")),
    "Submit.id": (_none, _set("submit.0.id", "M")),
    "Submit.args": (_none, _set("submit.0.args", [1])),
    "Submit.count": (_none, _set("submit.1.count", 3)),
    "Submit.every": (_none, _set("submit.1.every", 4)),
    "Submit.countdown": (_none, _set("submit.1.countdown", 9)),
    "Submit.eta": (_none, _set("submit.1.eta", 9)),
    "Submit.chain": (_chain, _set("submit.0.chain", [{"task": "long"}])),
    "Submit.chord": (_chord, _set("submit.0.chord.header", [{"task": "short"}])),
    "Submit.link": (_none, _set("submit.1.link", {"task": "short", "args": [1]})),
    "Submit.link_error": (_set("tasks.short.fails", True), _set("submit.1.link_error", {"task": "long"})),
    "Fault.at": (_set("faults", [{"at": 2, "kill": "w1"}]), _set("faults.0.at", 3)),
    "Fault.kill": (_set("faults", [{"at": 2, "stop": "w1"}]), _set("faults.0", {"at": 2, "kill": "w1"})),
    "Fault.stop": (_set("faults", [{"at": 2, "kill": "w1"}]), _set("faults.0", {"at": 2, "stop": "w1"})),
    "Fault.restart": (_set("faults", [{"at": 2, "kill": "w1"}]), _set("faults.0", {"at": 2, "restart": "w1"})),
    "Fault.revoke": (_none, _set("faults", [{"at": 2, "revoke": "t3"}])),
    "Fault.signal": (_set("faults", [{"at": 2, "revoke": "L", "terminate": True}]), _set("faults.0.signal", "SIGUSR1")),
    "Fault.terminate": (_set("faults", [{"at": 2, "revoke": "L"}]), _set("faults.0.terminate", True)),
}

# Fields a virtual replay of the settings form cannot show, with the tests that show them.
ELSEWHERE = {
    "Scenario.project": "the project form: tests/worker/test_project_scenarios.py",
    "Scenario.app": "the project form: test_project_scenarios.py (several apps, app: picks one)",
    "Scenario.deployment": "the project form: test_project_scenarios.py (deployment: picks the file)",
    "Scenario.unresolved": "the project form: test_project_scenarios.py (unresolved: default)",
    "Scenario.cpus": "the project form: test_project_scenarios.py (one process per CPU)",
    "TaskSpec.call": "--real runs the callable: tests/worker/test_real.py",
}

# A value of the setting that differs from Celery's default, and a context where it matters.
SETTING_PROBES: dict[str, tuple[Patch, Any]] = {
    "broker_url": (_none, "sqs://"),
    "broker_transport_options": (_none, {"visibility_timeout": 5, **FAST}),
    "task_acks_late": (_none, True),
    "task_acks_on_failure_or_timeout": (_late_limited, False),
    "task_acks_on_failure": (_late_failing, False),
    "task_acks_on_timeout": (_late_limited, False),
    "task_reject_on_worker_lost": (_kill_late, True),
    "task_time_limit": (_none, 3),
    "task_soft_time_limit": (_none, 3),
    "worker_prefetch_multiplier": (_none, 1),
    "worker_state_db": (_statedb_restart, "w1.db"),
    "worker_concurrency": (lambda s: s["workers"][0].pop("concurrency"), 2),
    "task_compression": (_set("tasks.long.payload_bytes", 10_000), "zlib"),
    "worker_disable_prefetch": (_none, True),
    "task_retry_on_worker_lost": (_set("faults", [{"at": 2, "kill": "w1/1"}]), True),
    "task_routes": (_two_queues, {"lo*": {"queue": "long"}}),
    "task_default_queue": (_two_queues, "long"),
    "worker_deduplicate_successful_tasks": (_both(_set("settings.task_acks_late", True),
                                                  _set("settings.result_backend", "redis://localhost/1")), True),
    "result_backend": (_both(_set("settings.task_acks_late", True),
                             _set("settings.worker_deduplicate_successful_tasks", True)), "redis://localhost/1"),
    "result_expires": (_both(_set("settings.task_acks_late", True), _set("settings.result_backend", "redis://localhost/1"),
                             _set("settings.worker_deduplicate_successful_tasks", True)), 1),
    "task_serializer": (_set("tasks.long.payload_bytes", 10_000), "pickle"),
    "accept_content": (_set("settings.task_serializer", "pickle"), ["pickle", "json"]),
}
OPTION_PROBES: dict[str, Any] = {"visibility_timeout": 60, "unacked_restore_interval": 3,
                                 "unacked_restore_throttle": 4}


def _replay(data: dict) -> dict:
    scenario = parse_scenario(json.dumps(data))
    return simulate(scenario, scenario.settings or {}).to_json()


def _schema_fields(model: type[BaseModel], seen: set[str] | None = None) -> set[str]:
    """Model.field for every field of model and of the models its fields hold."""
    seen = set() if seen is None else seen
    fields = set()
    for name, info in model.model_fields.items():
        fields.add(f"{model.__name__}.{name}")
        stack = [info.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                if kind.__name__ not in seen:
                    seen.add(kind.__name__)
                    fields |= _schema_fields(kind, seen)
            stack.extend(get_args(kind))
    return fields


def test_every_schema_field_has_a_probe():
    fields = _schema_fields(Scenario)
    assert {"WorkerSpec.statedb", "Step.immutable", "DurationRange.max", "Fault.terminate"} <= fields
    missing = sorted(fields - set(FIELD_PROBES) - set(ELSEWHERE))
    assert not missing, f"scenario keys with no probe of their effect on the replay: {missing}"
    assert not (set(FIELD_PROBES) | set(ELSEWHERE)) - fields, "probes of keys the schema no longer has"


@pytest.mark.parametrize("field", sorted(FIELD_PROBES))
def test_each_schema_field_changes_the_replay(field):
    context, change = FIELD_PROBES[field]
    before = copy.deepcopy(BASE)
    context(before)
    after = copy.deepcopy(before)
    change(after)
    assert after != before
    assert _replay(after) != _replay(before), f"{field} is accepted but changes nothing in the replay"


def test_every_modelled_setting_has_a_probe():
    assert set(SETTING_PROBES) == set(MODELLED_SETTINGS)
    assert set(OPTION_PROBES) == set(TRANSPORT_OPTIONS)


@pytest.mark.parametrize("name", sorted(SETTING_PROBES))
def test_each_modelled_setting_changes_the_replay(name):
    context, value = SETTING_PROBES[name]
    before = copy.deepcopy(BASE)
    context(before)
    before["settings"].pop(name, None)
    after = copy.deepcopy(before)
    after["settings"][name] = value
    assert _replay(after) != _replay(before), f"{name} is accepted but changes nothing in the replay"


@pytest.mark.parametrize("option", sorted(OPTION_PROBES))
def test_each_modelled_transport_option_changes_the_replay(option):
    before = copy.deepcopy(BASE)
    before["settings"]["task_acks_late"] = True
    after = copy.deepcopy(before)
    after["settings"]["broker_transport_options"][option] = OPTION_PROBES[option]
    assert _replay(after) != _replay(before), f"{option} is accepted but changes nothing in the replay"


def _every_celery_key() -> list[str]:
    names: set[str] = set()
    for release in catalog_releases.names():
        for setting in catalog_releases.settings_of(release).values():
            names.add(setting.name)
            names.update(setting.old_names)
    return sorted(names)


def test_every_other_celery_setting_is_refused_by_name():
    keys = _every_celery_key()
    assert len(keys) > 300
    accepted = []
    for key in keys:
        if key in MODELLED_SETTINGS:
            continue
        data = {**copy.deepcopy(BASE), "until": 2}
        data["settings"][key] = "x"
        try:
            _replay(data)
        except ScenarioError as exc:
            line = next((l for l in str(exc).splitlines() if l.strip().startswith(f"{key}:")), "")
            if "does not model" in line or "write" in line or "kombu reads" in line:
                continue
        accepted.append(key)
    assert not accepted, f"accepted but not modelled: {accepted}"


def test_other_keys_are_refused_with_their_name():
    data = copy.deepcopy(BASE)
    data["settings"].update(visibility_timeout=9, task_acks_lates=True)
    data["settings"]["broker_transport_options"]["global_keyprefix"] = "app:"
    with pytest.raises(ScenarioError) as caught:
        _replay(data)
    text = str(caught.value)
    assert "visibility_timeout: not a Celery setting" in text
    assert "task_acks_lates: not a Celery setting (did you mean 'task_acks_late'?)" in text
    assert "broker_transport_options['global_keyprefix']: a transport option the reference worker does not model" in text
