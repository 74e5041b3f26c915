"""`qlint simulate` end to end: the shipped scenarios, output formats, bad input."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qlint.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def simulate_json(capsys: pytest.CaptureFixture[str], name: str) -> dict:
    assert main(["simulate", str(SCENARIOS / name), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_incident_every_worker_runs_the_report_and_uploads_wait(capsys):
    bad = simulate_json(capsys, "long-task-incident-bad.yaml")
    assert {e["worker"] for e in bad["executions"] if e["id"] == "report"} == {"w1", "w2", "w3"}
    assert bad["summary"]["max_queue_wait"] > 3600
    fixed = simulate_json(capsys, "long-task-incident-fixed.yaml")
    assert fixed["summary"]["duplicates"] == 0 and fixed["summary"]["max_queue_wait"] < 60
    for key in ("id", "task", "worker", "start", "end", "outcome"):
        assert key in bad["executions"][0]
    assert bad["deliveries"] and "executions_per_id" in bad["summary"]


def test_incident_timeline_tells_the_story(capsys):
    assert main(["simulate", str(SCENARIOS / "long-task-incident-bad.yaml")]) == 0
    text = capsys.readouterr().out
    lines = [line.split(None, 1)[1] for line in text.splitlines() if line.strip().startswith(("1h", "2h", "4h"))]
    # The workers consume from 1 s, after mingle; sweeps run every 100 s from 0.
    assert "mingle done    w1      all alone, 0 revoked id(s) known: consuming" in text
    assert lines[0].startswith("restore                report restore sweep by w1: unacked for 3699s")
    # Each hour a sweep finds the report unacked for the visibility timeout and pushes it
    # back; an idle worker takes it and runs it again while the first copy still runs.
    first = next(i for i, line in enumerate(lines) if "DUPLICATE" in line)
    assert lines[first - 2:first + 1] == [
        "restore                report restore sweep by w1: unacked for 3600s ≥ visibility_timeout 3600s, "
        "pushed back to the head of the queue",
        "deliver        w3      report redelivered",
        "run            w3/1    report run #2 - DUPLICATE: still running on w1/1",
    ]
    assert "deliver        w1      report redelivered; reserved behind busy processes (w1/1 runs report)" in text
    assert "t1 reserved behind busy processes (w1/1 runs report)" in text  # a new upload waits
    assert "report run #3 - DUPLICATE: still running on w1/1, w3/1" in text  # the last idle slot runs it too
    assert "    report ran on w1/1, w3/1, w2/1, 3 at the same time" in text


def test_failures_say_why_and_are_summed_up(capsys):
    assert main(["simulate", str(SCENARIOS / "chain-mutable-bad.yaml")]) == 0
    text = capsys.readouterr().out
    assert "t1 failure: TypeError('takes 1 positional argument but 2 were given')" in text
    assert "  runs that did not succeed: t1 failure" in text


@pytest.mark.parametrize("bad, fixed, measure", [
    ("prefetch-behind-long-task-bad.yaml", "prefetch-behind-long-task-fixed.yaml", "max_queue_wait"),
    ("eta-beyond-visibility-bad.yaml", "eta-beyond-visibility-fixed.yaml", "duplicates"),
    ("worker-killed-early-ack.yaml", "worker-killed-late-ack.yaml", "lost"),
    ("revoke-lost-on-restart-bad.yaml", "revoke-lost-on-restart-fixed.yaml", "executions"),
    ("revoke-running-bad.yaml", "revoke-running-fixed.yaml", "success"),
    ("chain-mutable-bad.yaml", "chain-immutable-fixed.yaml", "failures"),
    ("large-payload-bad.yaml", "large-payload-fixed.yaml", "broker_bytes_peak"),
    ("requeue-loop-bad.yaml", "requeue-loop-fixed.yaml", "duplicates"),
    ("prefetch-behind-long-task-bad.yaml", "prefetch-disabled-fixed.yaml", "max_queue_wait"),
    ("prefetch-behind-long-task-bad.yaml", "long-task-own-queue-fixed.yaml", "max_queue_wait"),
    ("redelivery-dedupe-bad.yaml", "redelivery-dedupe-fixed.yaml", "duplicates"),
])
def test_each_example_shows_the_hazard_and_its_fix(capsys, bad, fixed, measure):
    def score(doc: dict) -> float:
        if measure == "executions":
            return sum(doc["summary"]["executions_per_id"].values())
        if measure == "success":
            return sum(e["outcome"] == "success" for e in doc["executions"])
        if measure == "failures":
            return sum(e["outcome"] == "failure" for e in doc["executions"])
        return doc["summary"][measure]
    assert score(simulate_json(capsys, bad)) > score(simulate_json(capsys, fixed))


def test_svg_is_written(tmp_path, capsys):
    out = tmp_path / "chart.svg"
    assert main(["simulate", str(SCENARIOS / "long-task-incident-bad.yaml"), "--svg", str(out)]) == 0
    svg = out.read_text()
    assert svg.startswith("<svg") and svg.count("<rect") > 5 and "w3/1" in svg and "stroke-dasharray" in svg
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)  # well-formed
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "10 duplicate runs (report ran 6×, t1 ran 2×, t2 ran 2×, t3 ran 2× and 2 more); lost 0; " \
           "longest wait 9h32m40s; broker memory peak 3,266 bytes" in texts
    assert {"w1 reserved", "w2 reserved", "w3 reserved"} <= set(texts)  # the uploads held behind the report
    assert ["0", "2h", "4h", "6h", "8h", "10h", "12h", "14h", "16h", "18h"] == [t for t in texts if t and re.fullmatch(r"0|(\d+[dhms])+", t)]
    runs = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None
            and " run #" in r.find("{http://www.w3.org/2000/svg}title").text]
    capsys.readouterr()
    executions = simulate_json(capsys, "long-task-incident-bad.yaml")["executions"]
    assert len(runs) == len(executions) == 17 and min(float(r.get("width")) for r in runs) >= 4  # one-minute uploads stay visible


def test_json_reserved_counts(capsys):
    doc = simulate_json(capsys, "prefetch-behind-long-task-bad.yaml")
    # w1 runs the long task and holds four thumbnails it cannot run: w2 idles meanwhile.
    assert max(n for _, n in doc["reserved"]["w1"]) == 4


_OK = "workers: [{name: w1}]\nsubmit: [{task: t}]\n"


@pytest.mark.parametrize("content, message", [
    ("workers: [", "not valid YAML"),
    ("- 1\n- 2\n", "a scenario is a YAML mapping"),
    ("workers: [{name: w1, concurrency: 0}]\ntasks: {t: {}}\nsubmit: [{task: t}]\n", "workers[0].concurrency"),
    ("workers: [{name: w1}]\ntasks: {t: {}}\nsubmit: [{task: nope}]\n", "unknown task 'nope'"),
    ("workers: [{name: w1}]\ntasks: {t: {}}\nsubmit: [{task: t}]\nfaults: [{at: 1, kill: w9}]\n", "unknown worker 'w9'"),
    ("workers: [{name: w1}]\ntasks: {t: {}}\nsubmit: [{task: t}]\nproject: ../app\n", "no such folder"),
    ("settings: {task_time_limit: [1]}\nworkers: [{name: w1}]\ntasks: {t: {}}\nsubmit: [{task: t}]\n", "task_time_limit should be a number"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "too large"),
    # wrong types, unknown keys, values that would break the replay
    (f"{_OK}tasks: {{t: {{duration: 1e308}}}}\n", "tasks.t.duration: Input should be less than or equal to"),
    (f"{_OK}tasks: {{t: {{duration: .nan}}}}\n", "tasks.t.duration: Input should be a finite number"),
    (f"{_OK}tasks: {{t: {{duration: {{min: 1, max: .inf}}}}}}\n", "tasks.t.duration.max: Input should be a finite number"),
    (f"{_OK}tasks: {{t: {{duration: 1h}}}}\n", "tasks.t.duration: Input should be a valid number"),
    (f"{_OK}tasks: {{t: {{}}}}\nuntil: .inf\n", "until: Input should be a finite number"),
    ("workers: [{name: w1, concurency: 2}]\ntasks: {t: {}}\nsubmit: [{task: t}]\n",
     "workers[0].concurency: unknown key (did you mean 'concurrency'?)"),
    ("workers: [{name: w1}]\ntasks: {t: {}}\nsubmit: [{tsk: t}]\n", "submit[0].tsk: unknown key (did you mean 'task'?)"),
    ("workers: w1\ntasks: {t: {}}\nsubmit: [{task: t}]\n", "workers: Input should be a valid list"),
    ("workers: [{name: w1}]\ntasks: [t]\nsubmit: [{task: t}]\n", "tasks: Input should be a valid dictionary"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{broker_transport_options: 5}}\n",
     "broker_transport_options should be a mapping, not 5"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{result_backend_transport_options: {{visibility_timeout: 9}}}}\n",
     "result_backend_transport_options: the result backend never restores messages"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{result_serializer: pickle}}\n",
     "result_serializer: a Celery setting the reference worker does not model"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{task_serializer: msgpack}}\n",
     "task_serializer 'msgpack' is not modelled (the reference worker models json, pickle)"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{task_compression: brotli}}\n",
     "task_compression 'brotli' is not modelled (the reference worker models bzip, bzip2, gzip, lzma, xz, zlib)"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{task_acks_late: 'off'}}\n", "task_acks_late should be true or false, not 'off'"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{worker_prefetch_multiplier: '4'}}\n",
     "worker_prefetch_multiplier should be a whole number, not '4'"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{broker_url: 5}}\n", "broker_url should be a URL string, not 5"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{broker_transport_options: {{visibility_timeout: -3}}}}\n",
     "visibility_timeout should not be negative"),
    (f"{_OK}tasks: {{t: {{}}}}\nsettings: {{broker_url: 'redis://', broker_transport_options: "
     "{unacked_restore_interval: 0.000001}}\nuntil: 1000000\n", "the replay needs more than"),
    ("!!python/object:os.system {}\n", "not valid YAML"),
])
def test_bad_scenarios_get_a_clear_message(tmp_path, capsys, monkeypatch, content, message):
    monkeypatch.setattr("qlint.worker.engine.MAX_EVENTS", 20_000)
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    code = main(["simulate", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and message in err and err.startswith("qlint simulate:")


@pytest.mark.parametrize("content, where, reason", [
    ("workers: [{name: w1}\nsubmit: [{task: t}]\n", "2:1", "not valid YAML: expected ',' or ']', but got '<scalar>'"),
    ("workers:\n  - name: w1\n bad: 1\n", "3:2", "not valid YAML: expected <block end>, but found '<block mapping start>'"),
    ("tasks: {t: {duration: \"1\x01\"}}\n", "1:25", "not valid YAML: unacceptable character #x0001"),
    ("workers: [{name: w1}]\nworkers: []\n", "2:1", "duplicate key 'workers'"),
    ("workers: [{name: !!python/name:os.system w1}]\n", "1:18", "not valid YAML: the tag !!python/name:os.system is not supported"),
])
def test_broken_yaml_names_file_line_and_column(tmp_path, capsys, content, where, reason):
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qlint simulate: {path}:{where}: {reason}"), err
    assert err.count("\n") == 1 and "unicode string" not in err and "<scenario>" not in err


def test_binary_file_and_missing_file(tmp_path, capsys):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    assert main(["simulate", str(path)]) == 2
    assert "not a UTF-8 text file" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_real_needs_a_broker(capsys):
    assert main(["simulate", str(SCENARIOS / "revoke-running-bad.yaml"), "--real"]) == 2
    assert "--real needs --broker" in capsys.readouterr().err


def test_real_without_the_redis_client_names_the_extra(tmp_path):
    """After a plain `pip install .`, redis is not installed: --real says which extra brings it."""
    import subprocess
    import sys

    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'redis' or name.startswith('redis.'):\n"
               "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
               "sys.meta_path.insert(0, Block())\n"
               "sys.argv[0] = 'qlint'\n"
               "from qlint.cli import main\n"
               "raise SystemExit(main())\n")
    done = subprocess.run([sys.executable, "-c", blocker, "simulate", str(SCENARIOS / "worker-killed-late-ack.yaml"),
                           "--real", "--broker", "redis://127.0.0.1:6390/15"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == ("qlint simulate: --real needs the redis client, which is not installed: "
                           "pip install 'celery-qlint[redis]'\n")
    assert done.stdout == ""
