"""The settings catalog against the installed Celery: data, names, namespaces, types."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import Celery
from celery.app import defaults as celery_defaults
from celery.exceptions import ImproperlyConfigured

import qlint.catalog as catalog

REPO = Path(__file__).resolve().parent.parent
SENTINEL = "qlint-sentinel-value"


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_catalog", REPO / "scripts" / "generate_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def _app(source: object, namespace: str | None = None) -> Celery:
    app = Celery("qlint_test", set_as_current=False)
    app.config_from_object(source, namespace=namespace)
    return app


def _read_as(key: str, namespace: str | None) -> set[str]:
    """The settings that a real Celery app reads from a source holding only `key`."""
    conf = _app(SimpleNamespace(**{key: SENTINEL}), namespace).conf
    return {name for name in celery_defaults.DEFAULTS if conf.get(name) == SENTINEL}


# --- the stored data is what Celery has -------------------------------------------


def test_stored_catalog_matches_installed_celery():
    stored = json.loads((REPO / "qlint" / "catalog" / "settings.json").read_text(encoding="utf-8"))
    drift = generator.describe_drift(stored, generator.build_catalog())
    assert not drift, "catalog is stale; run scripts/generate_catalog.py:\n" + "\n".join(drift)


def test_drift_is_described_setting_by_setting():
    fresh = generator.build_catalog()
    stale = json.loads(json.dumps(fresh))
    entries = {e["name"]: e for e in stale["settings"]}
    entries["task_acks_late"]["default"] = True
    del entries["worker_prefetch_multiplier"]
    stale["settings"] = list(entries.values()) + [dict(entries["task_time_limit"], name="task_time_limt")]
    drift = generator.describe_drift(stale, fresh)
    assert drift == [
        "+ worker_prefetch_multiplier: missing from the stored catalog",
        "- task_time_limt: no longer a Celery setting",
        "~ task_acks_late.default: stored True, Celery has False",
    ]


def test_check_mode_exits_1_on_a_stale_file_and_0_on_a_fresh_one(tmp_path):
    script = REPO / "scripts" / "generate_catalog.py"
    target = tmp_path / "settings.json"
    wrote = subprocess.run([sys.executable, script, "--output", target], capture_output=True, text=True)
    assert wrote.returncode == 0, wrote.stderr
    assert subprocess.run([sys.executable, script, "--check", "--output", target]).returncode == 0
    data = json.loads(target.read_text())
    data["settings"] = [e for e in data["settings"] if e["name"] != "task_acks_late"]
    target.write_text(json.dumps(data))
    checked = subprocess.run([sys.executable, script, "--check", "--output", target], capture_output=True, text=True)
    assert checked.returncode == 1
    assert "+ task_acks_late: missing from the stored catalog" in checked.stderr


def test_every_setting_is_there_with_celerys_default_and_type():
    assert set(catalog.SETTINGS) == set(celery_defaults.DEFAULTS)
    options = dict(celery_defaults.flatten(celery_defaults.NAMESPACES))
    for name, setting in catalog.SETTINGS.items():
        default = options[name].default
        if isinstance(default, timedelta):
            assert setting.default == default.total_seconds() and setting.default_kind == "seconds"
        elif isinstance(default, float) and math.isinf(default):
            assert setting.default == default and setting.default_kind == "float"
        else:
            assert setting.default == default, name
            assert type(setting.default) is type(default), name
        declared = options[name].type
        assert setting.type == (declared if isinstance(declared, str) else declared.__name__)
        assert setting.django_key == "CELERY_" + name.upper()


def test_values_the_rules_rely_on():
    get = catalog.get
    assert get("task_acks_late").default is False
    assert get("worker_prefetch_multiplier").default == 4
    assert get("task_time_limit").default is None
    assert get("result_expires").default == 86400
    assert get("accept_content").default == ("json",) and get("accept_content").type == "list"
    assert get("broker_transport_options").default == {}
    assert get("task_acks_on_failure_or_timeout").deprecated.removed_in == "7.0"
    assert get("no_such_setting") is None


def test_old_names_are_celerys():
    for old, new in celery_defaults._TO_NEW_KEY.items():
        assert catalog.from_old_name(old).name == new
    assert catalog.from_old_name("CELERYD_PREFETCH_MULTIPLIER").name == "worker_prefetch_multiplier"
    assert catalog.from_old_name("BROKER_URL").name == "broker_url"
    assert catalog.from_old_name("CELERY_ACKS_LATE").name == "task_acks_late"
    assert catalog.from_old_name("task_acks_late") is None


def test_runtime_needs_no_celery():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("celery", "kombu"):
                    raise ImportError("celery is not installed here")
        sys.meta_path.insert(0, Block())
        import qlint.catalog as c
        from qlint.catalog.data import _catalog
        assert _catalog.cache_info().currsize == 0, "read at import"
        assert len(c.SETTINGS) == 207 and c.get("task_acks_late") is c.SETTINGS["task_acks_late"]
        assert _catalog.cache_info().misses == 1, "read more than once"
        assert c.classify("CELERY_ACKS_LATE", "CELERY").setting.name == "task_acks_late"
        assert c.suggest("CELERY_TASK_ACK_LATE", "CELERY") == ["CELERY_TASK_ACKS_LATE"]
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "ok", run.stderr


# --- how Celery reads keys: classify() against a real Celery app ---------------------


def _keys_to_try(namespace: str | None) -> list[str]:
    keys = {"DEBUG", "TIME_ZONE", "CELERY_FOO", "celery_task_acks_late", "WORKER_CONCURRENCY"}
    for setting in catalog.SETTINGS.values():
        keys.update((setting.name, setting.name.upper(), *setting.old_names))
        if namespace:
            keys.add(catalog.namespaced_key(setting, namespace))
    return sorted(keys)


@pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")
@pytest.mark.parametrize("namespace", [None, "CELERY", "celery", "worker"])
def test_classify_agrees_with_celery_on_every_spelling(namespace):
    wrong = []
    for key in _keys_to_try(namespace):
        found = catalog.classify(key, namespace)
        read = _read_as(key, namespace)
        if found.kind == "fallback":
            conf = _app(SimpleNamespace(**{key: SENTINEL}), namespace).conf
            ok = not read and getattr(conf, found.setting.name) == SENTINEL
        elif found.read:
            ok = read == {found.setting.name}
        else:
            ok = not read
        if not ok:
            wrong.append(f"{key}: qlint says {found.kind} {found.setting and found.setting.name}, Celery read {read}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("key", "namespace", "kind", "name"),
    [
        ("CELERY_TASK_ACKS_LATE", "CELERY", "namespaced", "task_acks_late"),
        ("CELERY_RESULT_BACKEND", "CELERY", "namespaced", "result_backend"),
        ("CELERY_RESULT_BACKEND", None, "old", "result_backend"),
        ("task_acks_late", "CELERY", "current", "task_acks_late"),
        ("CELERY_ACKS_LATE", "CELERY", "old-under-namespace", "task_acks_late"),
        ("CELERYD_PREFETCH_MULTIPLIER", None, "old", "worker_prefetch_multiplier"),
        ("BROKER_URL", None, "old", "broker_url"),
        ("TIME_ZONE", "CELERY", "fallback", "timezone"),
        ("CELERY_FOO", "CELERY", "unknown-prefixed", None),
        ("celery_task_acks_late", "CELERY", "unknown-prefixed", None),
        ("CELERY_TASK_ACKS_LATE", "celery", "unknown-prefixed", None),
        ("task_ack_late", None, "unknown-prefixed", None),
        ("CELERY_TASK_ACKS_LATE", None, "unknown-prefixed", None),
        ("DEBUG", "CELERY", "unrelated", None),
        ("REDIS_URL", None, "unrelated", None),
        ("worker_concurrency", "worker", "namespaced", "worker_concurrency"),
        ("worker_task_acks_late", "worker", "namespaced", "task_acks_late"),
    ],
)
def test_classify_kinds(key, namespace, kind, name):
    found = catalog.classify(key, namespace)
    assert (found.kind, found.setting and found.setting.name) == (kind, name)


def test_lookup_order_is_celerys():
    keys = catalog.lookup_keys("worker_prefetch_multiplier", "CELERY")
    assert keys == ("CELERY_WORKER_PREFETCH_MULTIPLIER", "worker_prefetch_multiplier", "CELERYD_PREFETCH_MULTIPLIER")
    # Celery takes the first key present in the source, whatever the others say.
    for winner_index in range(len(keys)):
        source = {key: index for index, key in enumerate(keys) if index >= winner_index}
        assert _app(SimpleNamespace(**source), "CELERY").conf.worker_prefetch_multiplier == winner_index


def test_settings_module_on_disk_with_django_namespace(tmp_path, monkeypatch):
    package = tmp_path / "proj_qlint_ns"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        textwrap.dedent(
            """
            DEBUG = True
            CELERY_TASK_ACKS_LATE = True
            CELERY_TASK_TIME_LIMIT = 7200
            CELERYD_PREFETCH_MULTIPLIER = 1
            CELERY_TASK_ACK_LATE = "typo"
            CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    conf = _app("proj_qlint_ns.settings", "CELERY").conf
    module = importlib.import_module("proj_qlint_ns.settings")
    for key in [k for k in vars(module) if k.isupper()]:
        found = catalog.classify(key, "CELERY")
        if found.read:
            assert getattr(conf, found.setting.name) == getattr(module, key), key
    assert catalog.classify("CELERY_TASK_ACK_LATE", "CELERY").kind == "unknown-prefixed"
    assert conf.task_acks_late is True and conf.worker_prefetch_multiplier == 1


def test_mixing_old_and_new_names_raises_only_without_a_namespace():
    mixed = SimpleNamespace(task_acks_late=True, CELERYD_PREFETCH_MULTIPLIER=1)
    assert catalog.classify("CELERYD_PREFETCH_MULTIPLIER").kind == "old"
    with pytest.raises(ImproperlyConfigured, match=r"CELERYD_PREFETCH_MULTIPLIER\s+-> worker_prefetch_multiplier"):
        _app(mixed).conf.task_acks_late
    both = SimpleNamespace(CELERY_TASK_ACKS_LATE=True, CELERYD_PREFETCH_MULTIPLIER=1)
    assert catalog.classify("CELERYD_PREFETCH_MULTIPLIER", "CELERY").kind == "old-under-namespace"
    assert _app(both, "CELERY").conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize(("name", "variable"), sorted(catalog.ENVIRONMENT_OVERRIDES.items()))
def test_environment_overrides_beat_the_source(name, variable, monkeypatch):
    monkeypatch.setenv(variable, "redis://from-environment/0")
    conf = _app(SimpleNamespace(**{catalog.namespaced_key(name, "CELERY"): "redis://from-file/0"}), "CELERY").conf
    assert getattr(conf, name) == "redis://from-environment/0"


@pytest.mark.parametrize(
    ("name", "fallback"), [(n, f) for n, fs in sorted(catalog.PROPERTY_FALLBACKS.items()) for f in fs]
)
def test_property_fallbacks_are_read(name, fallback, monkeypatch):
    for variable in catalog.ENVIRONMENT_OVERRIDES.values():
        monkeypatch.delenv(variable, raising=False)
    conf = _app(SimpleNamespace(**{fallback: SENTINEL}), None).conf
    assert getattr(conf, name) == SENTINEL


# --- suggestions and types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "namespace", "expected"),
    [
        ("CELERY_TASK_ACK_LATE", "CELERY", ["CELERY_TASK_ACKS_LATE"]),
        ("CELERY_TASK_TIMELIMIT", "CELERY", ["CELERY_TASK_TIME_LIMIT"]),
        ("CELERY_CONCURRENCY", "CELERY", ["CELERY_WORKER_CONCURRENCY"]),
        ("CELERY_PREFETCH_MULTIPLIER", "CELERY", ["CELERY_WORKER_PREFETCH_MULTIPLIER"]),
        ("celery_task_acks_late", "CELERY", ["CELERY_TASK_ACKS_LATE"]),
        ("TASK_ACKS_LATE", "CELERY", ["CELERY_TASK_ACKS_LATE"]),
        ("CELERYD_PREFETCH_MULTIPLER", None, ["CELERYD_PREFETCH_MULTIPLIER"]),
        ("task_ack_late", None, ["task_acks_late"]),
        ("CELERY_TASK_ACKS_LATE", "CELERY", []),
        ("CELERY_VISIBILITY_TIMEOUT", "CELERY", []),
        ("DATABASES", "CELERY", []),
        ("TASK_ACK_LATE", "CELERY", []),
    ],
)
def test_suggest(key, namespace, expected):
    assert catalog.suggest(key, namespace) == expected


@pytest.mark.parametrize(
    ("name", "value", "fits"),
    [
        ("task_acks_late", True, True),
        ("task_acks_late", "False", False),
        ("task_acks_late", 1, True),
        ("worker_prefetch_multiplier", 1, True),
        ("worker_prefetch_multiplier", "1", False),
        ("worker_prefetch_multiplier", True, False),
        ("worker_prefetch_multiplier", None, False),
        ("task_time_limit", 7200, True),
        ("task_time_limit", 7200.5, True),
        ("task_time_limit", "7200", False),
        ("task_time_limit", None, True),
        ("result_expires", timedelta(hours=1), True),
        ("task_time_limit", timedelta(hours=1), False),
        ("broker_transport_options", {"visibility_timeout": 7200}, True),
        ("broker_transport_options", "visibility_timeout=7200", False),
        ("accept_content", ["json"], True),
        ("accept_content", "json", False),
        ("broker_url", "redis://localhost", True),
        ("broker_url", ["redis://a", "redis://b"], True),
        ("broker_use_ssl", {"ssl_cert_reqs": "required"}, True),
        ("task_queues", [], True),
        ("task_default_delivery_mode", 2, True),
        ("task_routes", object(), True),
    ],
)
def test_coerce_kind(name, value, fits):
    assert catalog.coerce_kind(catalog.get(name), value) is fits
