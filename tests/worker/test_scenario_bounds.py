"""Hostile scenario files (issue 15): a clear error (exit 2) or a bounded replay, never a
traceback, never unbounded memory. A scenario can come with a checked-out repository."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qlint.cli import main
from qlint.worker import parse_scenario
from qlint.worker.broker import MemoryStore
from qlint.worker.engine import Engine, VirtualClock
from qlint.worker.replay import checked_config
from qlint.worker.virtual import VirtualExecutor

_OK = "workers: [{name: w1}]\ntasks: {t: {}}\n"


def simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> tuple[int, str, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    code = main(["simulate", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("text, message", [
    (f"{_OK}submit: [{{task: t, args: [{'[' * 500}1{']' * 500}]}}]\n", "nested too deeply"),
    (f"{_OK}submit: [{{task: t, args: [{'[' * 40}1{']' * 40}]}}]\n", "nested more than 32 levels deep"),
    (f"{_OK}submit: [{{task: t, args: &a [1, *a]}}]\n", ".yaml:3:26: an alias refers to a collection that contains it"),
    (f"{_OK}settings: &s {{x: {{y: *s}}}}\nsubmit: [{{task: t}}]\n", "an alias refers to a collection that contains it"),
    (f"{_OK}submit: [{{task: t, args: [{'9' * 5000}]}}]\n", "an integer of 5,000 digits"),
    (f"{_OK}submit: [{{task: t}}]\nseed: -{'9' * 5000}\n", "an integer of 5,000 digits"),
    (f"{_OK}submit: [{{task: t, args: [!!set {{a, b}}]}}]\n", "the tag !!set is not supported"),
    (f"{_OK}submit: [{{task: t, args: [!!binary aGk=]}}]\n", "the tag !!binary is not supported"),
    (f"{_OK}settings: !!python/name:os.system\nsubmit: [{{task: t}}]\n", "not valid YAML"),
    (f"{_OK}submit: [{{task: t}}]\nsubmit: [{{task: t}}]\n", "duplicate key 'submit'"),
    (f"{_OK}submit:\n" + "".join("  - {task: t, count: 100000}\n" for _ in range(200)),
     "20,000,000 tasks submitted in all"),
], ids=["args-500-deep", "args-40-deep", "self-referencing-list", "self-referencing-map", "5000-digit-int",
        "5000-digit-seed", "set", "binary", "python-tag", "duplicate-key", "200x100000"])
def test_hostile_scenarios_get_a_clear_message(tmp_path, capsys, text, message):
    code, _, err = simulate(tmp_path, capsys, text)
    assert code == 2 and message in err and err.startswith("qlint simulate:"), err


def test_a_date_in_the_arguments_stays_text(tmp_path, capsys):
    code, out, _ = simulate(tmp_path, capsys, f"{_OK}submit: [{{task: t, args: [2024-05-01]}}]\n")
    assert code == 0 and "t('2024-05-01',)" in out


def test_a_60000_step_chain_replays(tmp_path, capsys):
    steps = ", ".join(["{task: t}"] * 60_000)
    code, out, _ = simulate(tmp_path, capsys, f"{_OK}submit: [{{chain: [{steps}]}}]\nuntil: 20\n")
    assert code == 0 and "t20 run #1" in out  # one step after the other, for as long as the replay lasts


def qlint_in_1gb(*args: str) -> subprocess.CompletedProcess:
    """qlint in a child process whose address space is capped at 1 GB."""
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "qlint", *args], capture_output=True, text=True, preexec_fn=limit,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=600)


def test_dev_zero_is_read_no_further_than_the_limit():
    done = qlint_in_1gb("simulate", "/dev/zero")
    assert done.returncode == 2 and "scenario is larger than 1000000 bytes" in done.stderr, done.stderr


def test_submissions_are_scheduled_one_at_a_time(tmp_path):
    # 100,000 submissions held one event in the queue at a time, not 100,000 (the 200 entries
    # of 100,000 above took 5.6 GB that way), in the same order as before.
    scenario = parse_scenario("workers: [{name: w1}]\ntasks: {t: {}, u: {}}\n"
                              "submit: [{task: t, count: 99999, every: 1}, {task: u, at: 2}]\nuntil: 3\n")
    engine = Engine(scenario, checked_config(scenario, {}), MemoryStore(), VirtualClock(), "virtual")
    engine.executor = VirtualExecutor(engine, scenario)
    trace = engine.run()
    assert len(engine._heap) < 10
    published = [(e.at, e.detail.split("(")[0]) for e in trace.events if e.kind == "publish"]
    assert published == [(0, "t"), (1, "t"), (2, "t"), (2, "u"), (3, "t")]  # at 2 s: the first entry's first


def test_a_replay_whose_timeline_outgrows_the_limit_is_stopped(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("qlint.worker.engine.MAX_RECORDS", 5_000)
    code, _, err = simulate(tmp_path, capsys, "workers: [{name: w1, concurrency: 64}]\ntasks: {t: {duration: 0.01}}\n"
                                              "submit: [{task: t, count: 100000, every: 0.001}]\nuntil: 1000\n")
    assert code == 2 and "the replay needs a timeline of more than 5,000 entries" in err


def test_the_largest_refused_scenario_stays_small(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(f"{_OK}submit:\n" + "".join("  - {task: t, count: 100000}\n" for _ in range(200)))
    done = qlint_in_1gb("simulate", str(path))
    assert done.returncode == 2 and "tasks submitted in all" in done.stderr and "Traceback" not in done.stderr


def test_the_project_cannot_be_the_whole_file_system(tmp_path, capsys, monkeypatch):
    code, _, err = simulate(tmp_path, capsys, "project: /\nsubmit: [{task: t}]\n")
    assert code == 2 and "project /: the root of the file system" in err
    monkeypatch.setattr("qlint.worker.from_project.MAX_PROJECT_FILES", 20)
    for i in range(30):
        (tmp_path / "big" / f"d{i}").mkdir(parents=True)
        (tmp_path / "big" / f"d{i}" / "notes.txt").write_text("x")
    code, _, err = simulate(tmp_path, capsys, "project: big\nsubmit: [{task: t}]\n")
    assert code == 2 and "more than 20 files" in err
    assert not (tmp_path / "big" / ".qlint_cache").exists()
