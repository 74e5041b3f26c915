"""One project deployed every way at once (tests/data/deployed): compose with an anchor,
profiles, env_file, replicas and interpolation from .env; Kubernetes Deployment + HPA +
StatefulSet with $(VAR) references; a Helm-rendered multi-document file; a Jinja template;
a Procfile in the Celery 4 order; supervisord with a continuation line and numprocs; a
systemd multi with per-node queues; a shell entrypoint with ${VAR:-default} and
${VAR:=default}. Checked and configured through the command line, as a user would."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "deployed"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deployed") / "project"
    shutil.copytree(DATA, root)
    return root


def qlint(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", *args, "--no-cache", "."], cwd=root,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def findings(tree: Path) -> list[dict]:
    run = qlint(tree, "check", "--format", "json")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    return json.loads(run.stdout)["findings"]


@pytest.fixture(scope="module")
def config(tree: Path) -> dict:
    run = qlint(tree, "config", "--format", "json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def process(config: dict, path: str, name: str) -> dict:
    [found] = [p for p in config["processes"] if p["defined_at"]["path"] == path and p["name"] == name]
    return found


def test_each_process_is_listed_once(config):
    # The compose services without profiles run in the base set and in each profile set:
    # still one process each.
    keys = [(p["defined_at"]["path"], p["name"]) for p in config["processes"]]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted([
        ("Procfile", "worker"),
        ("docker-compose.yml", "reports"), ("docker-compose.yml", "mail"),
        ("docker-compose.yml", "beat-dev"), ("docker-compose.yml", "beat"),
        ("deploy/helm/rendered.yaml", "release-name-proj-worker/worker"),
        ("deploy/k8s/worker.yaml", "images/celery"), ("deploy/k8s/worker.yaml", "scheduler/beat"),
        ("ops/celery.service", "celery.service"),
        ("ops/entrypoint.sh", "worker"), ("ops/entrypoint.sh", "beat"),
        ("ops/supervisord.conf", "celery-reports"), ("ops/supervisord.conf", "celery-beat"),
    ])


def test_findings_are_where_the_files_say_and_never_repeated(findings):
    located = [(f["code"], f["path"], f["line"], f["column"], f["end_line"], f["end_column"]) for f in findings]
    assert located == [
        ("QL401", "Procfile", 2, 9, 2, 89),  # the default prefetch on a worker of the 3 h reports
        ("QL401", "deploy/k8s/worker.yaml", 17, 20, 17, 146),  # after `exec`, inside `sh -c` (resize: 20 min)
        ("QL503", "deploy/k8s/worker.yaml", 36, 13, 36, 14),  # a StatefulSet of 2 beats
        ("QL401", "docker-compose.yml", 15, 7, 19, 20),  # a folded command over five lines
        ("QL101", "docker-compose.yml", 18, 20, 18, 42),  # --time-limit=${REPORT_LIMIT:-14400}
        ("QL401", "docker-compose.yml", 29, 14, 29, 75),  # the dev worker consumes the images queue too
        ("QL401", "ops/supervisord.conf", 5, 9, 6, 36),  # a command continued on the next line
        ("QL102", "proj/settings.py", 5, 1, 5, 29),
        ("QL104", "proj/tasks.py", 21, 45, 21, 49),
        ("QL501", "proj/tasks.py", 22, 5, 22, 23),
    ]
    # The Helm-rendered worker (--prefetch-multiplier=1) and the compose mail worker
    # (short tasks, prefetch from a variable set nowhere) are not flagged.
    assert not any(f["code"] == "QL401" and f["path"] in ("deploy/helm/rendered.yaml",) for f in findings)
    # dev (-B worker) and prod (beat service) are alternative profile sets: no QL503 there.
    assert not any(f["code"] == "QL503" and f["path"] == "docker-compose.yml" for f in findings)
    # A Jinja template may start any worker: QL404 cannot say that a queue has none.
    assert not any(f["code"] == "QL404" for f in findings)


def test_revokes_are_lost_in_the_deployments_without_a_state_db(findings):
    [finding] = [f for f in findings if f["code"] == "QL501"]
    # The Procfile keeps a state db; its alternatives do not.
    assert "the workers of deploy/helm/rendered.yaml, deploy/k8s/worker.yaml, docker-compose.yml" in finding["message"]
    assert "Procfile" not in finding["message"]


def test_compose_values_from_env_defaults_and_the_env_file(config):
    reports = process(config, "docker-compose.yml", "reports")
    assert reports["queues"] == {"value": ["reports"], "status": "known",
                                 "origin": {"path": "docker-compose.yml", "line": 16}, "env": "QUEUES"}
    assert (reports["concurrency"]["value"], reports["concurrency"]["status"]) == (1, "env-default")
    assert reports["replicas"]["value"] == 2 and reports["prefetch_count"]["value"] == 4
    mail = process(config, "docker-compose.yml", "mail")  # python -m celery as entrypoint, argv as command
    assert mail["pool"]["value"] == "threads"
    assert mail["prefetch_multiplier"]["status"] == "unknown"  # ${MAIL_PREFETCH}: no default, set nowhere
    assert (mail["concurrency"]["value"], mail["concurrency"]["env"]) == (6, "WORKER_CONCURRENCY")
    assert process(config, "docker-compose.yml", "beat-dev")["profiles"] == ["dev"]
    assert config["environment"]["WORKER_CONCURRENCY"] == [{"path": ".env", "line": 3},
                                                          {"path": "ops/supervisord.conf", "line": 9}]


def test_kubernetes_expands_its_own_variable_references(config):
    images = process(config, "deploy/k8s/worker.yaml", "images/celery")
    assert (images["concurrency"]["value"], images["concurrency"]["env"]) == (4, "CONC")  # --concurrency=$(CONC)
    assert images["replicas"]["value"] == 3 and images["autoscaled"] is True
    assert images["queues"]["value"] == ["images"]
    helm = process(config, "deploy/helm/rendered.yaml", "release-name-proj-worker/worker")
    assert (helm["concurrency"]["value"], helm["prefetch_multiplier"]["value"], helm["replicas"]["value"]) == (2, 1, 2)


def test_multi_with_per_node_queues_and_the_other_formats(config):
    multi = process(config, "ops/celery.service", "celery.service")
    assert multi["nodes"]["value"] == ["w1", "w2"] and multi["queues"]["status"] == "unknown"
    script = process(config, "ops/entrypoint.sh", "worker")
    assert script["queues"]["value"] == ["reports", "mail"] and script["queues"]["status"] == "env-default"
    assert (script["concurrency"]["value"], script["prefetch_multiplier"]["value"]) == (2, 1)
    supervised = process(config, "ops/supervisord.conf", "celery-reports")
    assert (supervised["replicas"]["value"], supervised["concurrency"]["value"]) == (2, 2)
    assert process(config, "Procfile", "worker")["state_db"]["value"] == "/app/state/worker.db"


def test_text_report_names_each_worker_with_what_it_reserves(tree):
    text = qlint(tree, "config").stdout
    assert text.count("worker 'reports'  docker-compose.yml:15  app 'proj'") == 1
    assert "reserves at most     12  4 x concurrency 3" in text  # the Procfile: -c 3, default multiplier
    assert "concurrency          4  deploy/k8s/worker.yaml:17, environment variable CONC set in deploy/k8s/worker.yaml:19" in text
    # .env sets 6 for the compose worker; supervisord sets 3 for its own program only.
    assert "concurrency          6  proj/settings.py:6, environment variable WORKER_CONCURRENCY set in .env:3\n" in text
    assert "nodes                ['w1', 'w2']" in text
    assert "queues               ('reports', 'mail')  ops/entrypoint.sh:6" in text


def test_notes_for_what_was_skipped_or_will_not_start(tree):
    run = qlint(tree, "check")
    assert run.returncode == 1
    assert ("note: Procfile:2: `celery worker -A ...` is the Celery 4 order: Celery 5 refuses to start it "
            "(write `celery -A proj worker ...`)") in run.stderr
    assert "note: deploy/k8s/templated.yaml: a template (Jinja or Go template markers), not YAML; skipped" in run.stderr
    assert "note: deploy/k8s/templated.yaml" not in run.stdout and "Traceback" not in run.stderr
    assert qlint(tree, "check", "--quiet").stderr == ""
    assert qlint(tree, "check", "--format", "json").stderr == ""


def test_every_report_format_gives_the_same_positions(tree, findings):
    sarif = json.loads(qlint(tree, "check", "--format", "sarif").stdout)
    regions = sorted((r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                      r["locations"][0]["physicalLocation"]["region"]["startLine"],
                      r["locations"][0]["physicalLocation"]["region"]["startColumn"])
                     for r in sarif["runs"][0]["results"])
    assert regions == sorted((f["code"], f["path"], f["line"], f["column"]) for f in findings)
    github = qlint(tree, "check", "--format", "github").stdout
    text = qlint(tree, "check").stdout
    for f in findings:
        level = "error" if f["severity"] == "error" else "warning"
        assert f"::{level} file={f['path']},line={f['line']},col={f['column']}," in github
        assert f"{f['path']}:{f['line']}:{f['column']}: {f['code']}" in text
    # The text report shows the line the finding is on, from the deployment file itself.
    assert "18 |       --time-limit=${REPORT_LIMIT:-14400}" in text
    assert " 5 | command=/venv/bin/celery --app=proj worker --queues=reports" in text


def test_a_setting_read_from_a_variable_names_the_file_of_each_value(tree):
    text = qlint(tree, "config").stdout
    [line] = [line for line in text.splitlines() if line.strip().startswith("broker_url")]
    assert "'redis://redis:6379/1' if $BROKER_URL is 'redis://redis:6379/1' (.env:2)" in line
    assert "(deploy/k8s/worker.yaml:22)" in line and "(ops/supervisord.conf:9)" in line
    assert line.endswith("proj/settings.py:4")


def test_notes_only_for_the_paths_checked(tree):
    def stderr(*paths: str) -> str:
        return subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", *paths], cwd=tree,
                              capture_output=True, text=True).stderr

    assert stderr("proj/settings.py") == ""  # a pre-commit run on one Python file
    assert stderr("deploy") == "note: deploy/k8s/templated.yaml: a template (Jinja or Go template markers), not YAML; skipped\n"
    assert stderr("Procfile").startswith("note: Procfile:2: `celery worker -A ...` is the Celery 4 order")
