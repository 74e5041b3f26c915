"""`qlint inspect` against a real Redis server and real Celery workers."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from qlint.cli import main
from qlint.cli.inspect import watch
from qlint.live.redis_state import READ_COMMANDS, Reader, ReadRefused, read_only_client
from qlint.live.urls import redacted

from tests.live.conftest import APP, Project, database, overdue


def inspect(capsys, url: str, path: Path, *options: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["inspect", "--broker", url, str(path), "--no-cache", *options])
    out, err = capsys.readouterr()
    return status, out, err


def report(capsys, url: str, path: Path, *options: str) -> tuple[int, dict]:
    status, out, _ = inspect(capsys, url, path, "--format", "json", *options)
    return status, json.loads(out)


def test_a_late_acked_task_past_the_timeout_before_and_after_the_sweep(redis_url, project, capsys):
    url = database(redis_url, 1)
    proj: Project = project(url)
    proj.worker("first")
    proj.send("long-1")
    proj.wait(lambda: len(proj.runs()) == 1)

    # Held, and an hour from its deadline: listed, no finding.
    status, data = report(capsys, url, proj.folder, "--visibility-timeout", "3600")
    assert status == 0 and data["findings"] == []
    [held] = data["unacked"]
    assert (held["task"], held["id"], held["overdue"], held["redelivered"]) == ("liveproj.hold", "long-1", False, False)
    assert held["pushed_back_from"] == pytest.approx(held["delivered_at"] + 3600)

    # Past the project's 3 s: the next sweep will push it back while it still runs.
    proj.wait(overdue(url, 3.2))
    status, data = report(capsys, url, proj.folder)
    assert status == 1
    assert data["visibility_timeout"]["seconds"] == 3 and "liveproj.py:9" in data["visibility_timeout"]["from"]
    [held] = data["unacked"]
    assert held["overdue"] and not held["redelivered"]
    [finding] = data["findings"]
    assert finding["code"] == "QL101" and finding["path"] == f"unacked[{held['tag']}]"
    assert "liveproj.hold (id long-1)" in finding["message"] and "pushes it back to 'celery'" in finding["message"]
    assert len(proj.runs()) == 1  # reported before any sweep ran it again

    status, out, _ = inspect(capsys, url, proj.folder)
    assert status == 1 and f"unacked[{held['tag']}]: QL101 liveproj.hold (id long-1)" in out
    assert "past the timeout: pushed back at the next sweep" in out

    # A second worker's start-up sweep restores it, and that worker runs it while the first still does.
    proj.worker("second")
    proj.wait(lambda: len(proj.runs()) == 2)
    assert len(set(proj.runs())) == 2
    status, data = report(capsys, url, proj.folder)
    assert status == 1
    [held] = [h for h in data["unacked"] if h["id"] == "long-1"]
    assert held["redelivered"]
    twice = [f for f in data["findings"] if f["code"] == "QL101" and "running more than once" in f["message"]]
    assert len(twice) == 1 and "long-1" in twice[0]["message"]

    # The live workers: both run the task; they reserve one message per process where the
    # project's settings say four; nobody consumes `bulk`.
    proj.send("stranded-1", queue="bulk")
    status, data = report(capsys, url, proj.folder, "--ask-workers")
    assert status == 1
    assert sorted(w["hostname"].split("@")[0] for w in data["workers"]) == ["first", "second"]
    assert all(len(w["active"]) == 1 and w["active"][0]["id"] == "long-1" for w in data["workers"])
    [held] = [h for h in data["unacked"] if h["id"] == "long-1"]
    assert held["worker"].endswith("(running)")
    assert {(d["setting"], d["live"]) for d in data["drift"]} == {("worker_prefetch_multiplier", 1)}
    assert [d["project"][0]["value"] for d in data["drift"]] == [4, 4]
    [stranded] = [f for f in data["findings"] if f["code"] == "QL404"]
    assert stranded["path"] == "bulk" and "no live worker" in stranded["message"]
    # Both run tasks acknowledged late with no time limit on Redis, which the project's broker_url,
    # read from the environment, does not tell: the static QL102 holds on each, from what they report.
    late = [f for f in data["findings"] if f["path"].startswith("worker ") and f["code"] in ("QL101", "QL102")]
    assert sorted(f["path"] for f in late) == sorted(f"worker {w['hostname']}" for w in data["workers"])
    assert all(f["code"] == "QL102" and "broker_url redis://" in f["message"] for f in late)


def test_the_static_rules_run_again_with_the_settings_each_worker_runs_with(redis_url, project, capsys, monkeypatch):
    url = database(redis_url, 6)
    proj: Project = project(url)
    monkeypatch.chdir(proj.folder)  # paths as `qlint inspect .` shows them
    # The repository acknowledges early. One worker runs a release that acknowledges late (with the
    # visibility timeout of 3 s and no time limit); another runs the repository's code with time
    # limits on its command line, which Celery keeps out of the configuration its `conf` reply shows.
    (proj.folder / "liveproj.py").write_text(APP.replace("task_acks_late=True", "task_acks_late=False"))
    proj.worker("late", code=APP)
    proj.worker("bounded", "--time-limit", "2", "--soft-time-limit", "2")
    proj.wait(proj.answering(2))
    status, data = report(capsys, url, proj.folder, "--ask-workers")
    assert status == 1
    hosts = {w["hostname"].split("@")[0]: w["hostname"] for w in data["workers"]}
    live = {(f["code"], f["path"]): f for f in data["findings"] if f["path"].startswith("worker ")}
    assert set(live) == {("QL102", f"worker {hosts['late']}"), ("QL402", f"worker {hosts['bounded']}")}
    late = live[("QL102", f"worker {hosts['late']}")]["message"]
    assert late.startswith("tasks of app 'liveproj' are acknowledged late with no hard time limit: a run longer than "
                           "visibility timeout 3 s is delivered again while it runs")
    assert f"[as {hosts['late']} runs, by the settings it reports: " in late
    assert "task_acks_late True (the project: False, liveproj.py:8)" in late
    bounded = live[("QL402", f"worker {hosts['bounded']}")]["message"]
    assert "task_time_limit 2 s (the project: none, Celery's default)" in bounded
    assert all(w["confirmed"] == [] for w in data["workers"])
    status, out, _ = inspect(capsys, url, proj.folder, "--ask-workers")
    assert f"worker {hosts['late']}: QL102 tasks of app 'liveproj'" in out


def test_a_worker_that_runs_the_repositorys_settings_adds_no_finding(redis_url, project, capsys, monkeypatch):
    url = database(redis_url, 7)
    proj: Project = project(url)
    monkeypatch.chdir(proj.folder)
    # The broker the project's code reads from the environment is named in its configuration, so
    # `qlint check` reports QL102 (late acknowledgement, no time limit, a visibility timeout of 3 s).
    (proj.folder / "pyproject.toml").write_text('[tool.qlint]\nbroker = "redis"\n')
    proj.worker("same")
    proj.wait(proj.answering(1))
    status, data = report(capsys, url, proj.folder, "--ask-workers")
    [worker] = data["workers"]
    assert [f for f in data["findings"] if f["path"].startswith("worker ")] == []
    assert [(f["code"], f["path"], f["line"]) for f in worker["confirmed"]] == [("QL102", "liveproj.py", 8)]
    status, out, _ = inspect(capsys, url, proj.folder, "--ask-workers")
    assert "runs the hazards `qlint check` reports from the project's settings: QL102 (liveproj.py:8)" in out


@pytest.fixture(scope="module")
def killed_worker(redis_url, tmp_path_factory):
    """What a SIGKILLed worker leaves: a late-acked task and an ETA message in `unacked`, past
    the visibility timeout, and a 5 MiB message in a queue no worker consumes. Nothing changes
    the keyspace afterwards."""
    url = database(redis_url, 2)
    proj = Project(tmp_path_factory.mktemp("killed"), url)
    try:
        proj.worker("doomed")
        proj.send("later-1", countdown=3600)
        proj.send("long-2")
        proj.send("big-1", queue="bulk", payload="x" * (5 * 1024 * 1024))
        client = redis.Redis.from_url(url)
        proj.wait(lambda: len(proj.runs()) == 1 and client.hlen("unacked") == 2)
        proj.workers[0].kill()
        proj.workers[0].wait()
        proj.wait(overdue(url, 3.2))
        client.close()
        yield proj
    finally:
        proj.stop()


def test_held_eta_messages_queues_and_large_messages(killed_worker, capsys):
    proj = killed_worker
    status, data = report(capsys, proj.url, proj.folder)
    assert status == 1
    by_code = {}
    for f in data["findings"]:
        by_code.setdefault(f["code"], []).append(f)
    [eta] = by_code["QL104"]
    assert "liveproj.hold (id later-1)" in eta["message"] and "runs twice" in eta["message"]
    assert eta["path"].startswith("unacked[")
    [late] = by_code["QL101"]
    assert "long-2" in late["message"]
    [large] = by_code["QL201"]
    assert large["path"] == "bulk" and "liveproj.hold" in large["message"]
    queues = {q["name"]: q for q in data["queues"]}
    assert queues["bulk"]["length"] == 1 and queues["bulk"]["bound"] and queues["bulk"]["memory"] > 5 * 2**20
    assert queues["celery"]["length"] == 0 and queues["celery"]["configured"]
    assert data["largest"][0]["id"] == "big-1" and data["largest"][0]["size"] > 5 * 2**20
    ids = {h["id"]: h for h in data["unacked"]}
    assert set(ids) == {"later-1", "long-2"} and ids["later-1"]["eta"] is not None


def _keyspace(client: redis.Redis) -> dict:
    out = {}
    for key in client.scan_iter(count=1000):
        out[key] = (client.type(key), client.dump(key), client.pttl(key) > 0)
    return out


def _calls(client: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): values["calls"] for name, values in client.info("commandstats").items()}


def _writes(client: redis.Redis, calls: dict[str, int]) -> dict[str, int]:
    """The calls of each command Redis flags `write` (a subcommand by its command's flags)."""
    table = client.command()
    flagged = {name for name, info in table.items() if "write" in info.get("flags", ())}
    return {name: n for name, n in calls.items() if name.split("|")[0] in flagged}


def test_nothing_is_written_to_the_broker(killed_worker, capsys):
    client = redis.Redis.from_url(killed_worker.url)
    before, calls = _keyspace(client), _calls(client)
    assert before and _writes(client, calls)  # the worker wrote: the comparison below has something to catch
    for fmt in ("text", "json"):
        status, _, _ = inspect(capsys, killed_worker.url, killed_worker.folder, "--format", fmt)
        assert status == 1
    assert _keyspace(client) == before
    after = _calls(client)
    assert _writes(client, after) == _writes(client, calls)
    # Every command sent since: inspect's reads, this test's own, and a connection's handshake.
    sent = {name for name, n in after.items() if n != calls.get(name)}
    ours = {"scan", "type", "dump", "pttl", "info", "command", "hello", "client|setinfo", "select", "ping"}
    assert sent - ours <= {c.lower().replace(" ", "|") for c in READ_COMMANDS}, sent
    assert {"hscan", "zrange", "lrange", "sscan", "memory|usage"} <= sent
    client.close()


def test_commands_outside_the_read_list_are_refused():
    client = read_only_client("redis://127.0.0.1:1/0")  # refused before any connection is made
    with pytest.raises(ReadRefused):
        client.set("key", "value")
    with pytest.raises(ReadRefused):
        client.delete("unacked")
    with pytest.raises(ReadRefused):
        client.pipeline()
    assert not {"SET", "DEL", "HSET", "LPUSH", "RPUSH", "ZADD", "EVAL", "EVALSHA", "KEYS", "FLUSHDB"} & READ_COMMANDS


def test_credentials_are_never_printed(killed_worker, capsys):
    secret = "s3cr3t-Pw"
    admin = redis.Redis.from_url(killed_worker.url)
    admin.acl_setuser("inspector", enabled=True, passwords=[f"+{secret}"], keys=["*"], channels=["*"],
                      commands=["+@all"])
    host = killed_worker.url.split("://", 1)[1]
    good = f"redis://inspector:{secret}@{host}"
    for fmt in ("text", "json"):
        status, out, err = inspect(capsys, good, killed_worker.folder, "--format", fmt)
        assert status == 1 and secret not in out + err
        assert "redis://inspector:***@" in out
    status, out, err = inspect(capsys, f"redis://inspector:wrong-{secret}@{host}", killed_worker.folder)
    assert status == 2 and secret not in out + err and "***" in err
    admin.acl_deluser("inspector")
    admin.close()


def test_queues_are_read_within_limits(redis_url):
    url = database(redis_url, 4)
    writer = redis.Redis.from_url(url)
    writer.lpush("q", *[json.dumps({"headers": {"task": "t", "id": str(i)}, "pad": "x" * 1000}) for i in range(50)])
    client = read_only_client(url)
    state = Reader(client, sample=1000, max_bytes=10_000).queue("q", bound=False)
    assert (state.length, len(state.messages), state.sampled) == (50, 20, True)  # one page, then over the bytes
    assert state.oldest.id == "0"  # the right end: the next one out
    state = Reader(client, sample=5).queue("q", bound=False)
    assert (len(state.messages), state.sampled) == (5, True)
    assert len(Reader(client).queue("q", bound=False).messages) == 50
    client.close()
    writer.close()


def test_an_empty_broker_passes(redis_url, tmp_path, capsys):
    url = database(redis_url, 3)
    status, out, _ = inspect(capsys, url, tmp_path)
    assert status == 0 and "Unacked: none" in out and out.rstrip().endswith("All checks passed.")


def test_without_the_redis_client(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "redis", None)
    status, _, err = inspect(capsys, "redis://127.0.0.1:1/0", tmp_path)
    assert status == 2 and "pip install 'celery-qlint[redis]'" in err


def test_other_brokers_are_refused_without_their_password(tmp_path, capsys):
    status, _, err = inspect(capsys, "sqs://AKIAEXAMPLE:hunter2@", tmp_path)
    assert status == 2 and "hunter2" not in err and "only Redis" in err


def test_an_unreachable_broker_is_a_usage_error(tmp_path, capsys):
    status, out, err = inspect(capsys, "redis://:pw-9@127.0.0.1:1/0", tmp_path)
    assert status == 2 and out == "" and "cannot read redis://:***@127.0.0.1:1/0" in err and "pw-9" not in err


def test_watch_prints_one_json_report_per_line(redis_url, tmp_path, capsys, monkeypatch):
    import qlint.cli.inspect as command

    url = database(redis_url, 5)
    rounds = iter([True, True, False])

    def sleep(seconds):
        assert seconds == 0.5
        if not next(rounds):
            raise KeyboardInterrupt

    monkeypatch.setattr(command, "time", SimpleNamespace(sleep=sleep, time=time.time))
    status, out, _ = inspect(capsys, url, tmp_path, "--format", "json", "--watch", "0.5")
    assert status == 130
    reports = [json.loads(line) for line in out.splitlines()]
    assert len(reports) == 3 and all(r["findings"] == [] for r in reports)


def test_watch_reads_again_every_n_seconds():
    reads, sleeps = [], []
    status = watch(lambda: reads.append(1) or len(reads) % 2, 7.5, sleep=sleeps.append, rounds=3)
    assert (len(reads), sleeps, status) == (3, [7.5, 7.5], 1)
    assert watch(lambda: 0, None, sleep=sleeps.append) == 0 and len(sleeps) == 2


@pytest.mark.parametrize("url, shown", [
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("redis://:pw@host:6379/1", "redis://:***@host:6379/1"),
    ("rediss://user:p%40ss@host/0", "rediss://user:***@host/0"),
    ("redis://token@host/0", "redis://***@host/0"),
    ("redis://host/0?password=pw&db=2", "redis://host/0?password=***&db=2"),
])
def test_urls_are_shown_without_secrets(url, shown):
    assert redacted(url) == shown


def test_the_consumer_timeout_goes_with_rabbitmq(tmp_path, capsys):
    status, _, err = inspect(capsys, "redis://127.0.0.1:1/0", tmp_path, "--consumer-timeout", "60")
    assert status == 2 and "--consumer-timeout goes with an amqp:// broker" in err
