"""Which files `qlint check` reads, and what it says about the rest: paths named on the
command line despite `exclude` (as Ruff), each sub-project's own [tool.qlint], paths that hold
nothing qlint reads, and the notes about skipped files in the machine formats."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.settings")\n'
SETTINGS = 'broker_url = "redis://redis:6379/0"\n'
# A chain whose next task cannot take the parent's result: QL301 in the file that builds it.
CHAIN = ("from celery import chain\n\nfrom proj.tasks import notify, parse\n\n\n"
         "def start(upload_id):\n    chain(parse.s(upload_id), notify.s()).delay()\n")
TASKS = ("from proj.celery import app\n\n\n@app.task\ndef parse(upload_id):\n    return upload_id\n\n\n"
         "@app.task\ndef notify():\n    return None\n")


def qlint(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qlint", "check", "--no-cache", *args], cwd=root,
                          capture_output=True, text=True)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def project(root: Path, prefix: str = "", **more: str) -> dict[str, str]:
    return {f"{prefix}proj/__init__.py": "", f"{prefix}proj/celery.py": APP, f"{prefix}proj/settings.py": SETTINGS,
            f"{prefix}proj/tasks.py": TASKS, f"{prefix}uploads/__init__.py": "", f"{prefix}uploads/start.py": CHAIN,
            **more}


def codes(run: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    assert "Traceback" not in run.stderr, run.stderr
    return sorted((f["code"], f["path"]) for f in json.loads(run.stdout)["findings"])


def test_a_path_named_on_the_command_line_is_checked_although_excluded(tmp_path):
    root = write(tmp_path, project(tmp_path, **{"pyproject.toml": '[tool.qlint]\nexclude = ["uploads/*"]\n'}))
    assert codes(qlint(root, "--format", "json", ".")) == []
    named = qlint(root, "--format", "json", "uploads/start.py")
    assert codes(named) == [("QL301", "uploads/start.py")] and named.returncode == 1
    # pre-commit's hook passes --force-exclude: then exclude wins, as in Ruff.
    forced = qlint(root, "--format", "json", "--force-exclude", "uploads/start.py")
    assert forced.returncode == 0 and forced.stdout == ""


def test_an_excluded_folder_named_explicitly_keeps_the_patterns_below_it(tmp_path):
    # A folder named on the command line is the tree to analyse: legacy/ is a project of its own.
    root = write(tmp_path, {"pyproject.toml": '[tool.qlint]\nexclude = ["legacy", "generated"]\n',
                            **project(tmp_path, "legacy/"),
                            "legacy/generated/__init__.py": "", "legacy/generated/start.py": CHAIN})
    assert codes(qlint(root, "--format", "json", ".")) == []
    assert codes(qlint(root, "--format", "json", "legacy")) == [("QL301", "legacy/uploads/start.py")]
    assert qlint(root, "--format", "json", "--force-exclude", "legacy").stdout == ""


def test_each_sub_project_is_governed_by_its_own_configuration(tmp_path):
    root = write(tmp_path, {
        "pyproject.toml": "[tool.qlint]\n",
        **project(tmp_path, "services/api/", **{
            "services/api/pyproject.toml": '[tool.qlint]\nignore = ["QL301"]\n'}),
        **project(tmp_path, "services/worker/", **{
            "services/worker/.qlint.toml": 'per-file-ignores = { "legacy/*" = ["QL3"] }\nexclude = ["vendored"]\n',
            "services/worker/legacy/__init__.py": "", "services/worker/legacy/start.py": CHAIN.replace("proj.", "proj."),
            "services/worker/vendored/__init__.py": "", "services/worker/vendored/start.py": CHAIN}),
    })
    found = codes(qlint(root, "--format", "json", "."))
    # services/api ignores QL301; services/worker ignores QL3 under its legacy/ (a pattern relative to
    # its own folder) and excludes vendored/; the worker's own chain is still reported.
    assert ("QL301", "services/worker/uploads/start.py") in found
    assert not [f for f in found if f[1].startswith(("services/api/", "services/worker/legacy/",
                                                       "services/worker/vendored/"))], found
    # pre-commit at the repository root: files of both sub-projects in one run.
    both = codes(qlint(root, "--format", "json", "services/api/uploads/start.py", "services/worker/uploads/start.py"))
    assert both == [("QL301", "services/worker/uploads/start.py")]


def test_a_virtualenv_in_the_tree_is_not_checked(tmp_path):
    # any folder holding a pyvenv.cfg, whatever its name: installed packages are not the project
    root = write(tmp_path, {**project(tmp_path), "tools/pyvenv.cfg": "home = /usr/bin\n",
                            "tools/lib/site/uploads/__init__.py": "", "tools/lib/site/uploads/start.py": CHAIN})
    assert codes(qlint(root, "--format", "json", ".")) == [("QL301", "uploads/start.py")]
    (root / "tools/pyvenv.cfg").unlink()
    assert codes(qlint(root, "--format", "json", ".")) == [("QL301", "tools/lib/site/uploads/start.py"),
                                                           ("QL301", "uploads/start.py")]


def test_a_broken_sub_project_configuration_is_a_usage_error(tmp_path):
    root = write(tmp_path, {"pyproject.toml": "[tool.qlint]\n",
                            **project(tmp_path, "services/api/", **{
                                "services/api/pyproject.toml": '[tool.qlint]\nignor = ["QL301"]\n'})})
    run = qlint(root, ".")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "unknown key 'ignor' in [tool.qlint] of" in run.stderr and "did you mean 'ignore'?" in run.stderr


def test_a_path_with_nothing_qlint_reads_is_a_warning(tmp_path):
    root = write(tmp_path, project(tmp_path, **{"docs/index.md": "# Docs\n"}))
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    image = qlint(root, "logo.png")
    assert image.returncode == 0 and image.stdout == "All checks passed.\n"
    assert image.stderr == ("warning: logo.png: holds no file qlint reads (Python, deployment, environment, settings "
                            "or dependency files); nothing was checked there\n")
    folder = qlint(root, "--format", "json", "docs")
    assert folder.returncode == 0 and "warning: docs: holds no file qlint reads" in folder.stderr
    assert json.loads(folder.stdout)["notes"][0]["level"] == "warning"
    # A folder with Python in it is checked, and says nothing.
    assert qlint(root, "proj").stderr == ""


def test_skipped_files_are_notes_in_json_and_sarif(tmp_path):
    root = write(tmp_path, project(tmp_path, **{
        "chart/templates/worker.yaml": ("{{- if .Values.worker.enabled }}\napiVersion: apps/v1\nkind: Deployment\n"
                                        "spec:\n  template:\n    spec:\n      containers:\n"
                                        "        - args: [celery, -A, proj, worker]\n{{- end }}\n")}))
    expected = "a template (Jinja or Go template markers), not YAML; skipped"
    report = json.loads(qlint(root, "--format", "json", ".").stdout)
    assert {"level": "note", "path": "chart/templates/worker.yaml", "line": None, "column": None,
            "message": expected} in report["notes"]
    sarif = json.loads(qlint(root, "--format", "sarif", ".").stdout)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [(n["level"], n["message"]["text"], n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for n in notes if "template" in n["message"]["text"]] == [("note", expected, "chart/templates/worker.yaml")]
    text = qlint(root, ".")
    assert f"note: chart/templates/worker.yaml: {expected}" in text.stderr


def test_unused_suppressions_are_a_rule_of_their_own(tmp_path):
    root = write(tmp_path, project(tmp_path, **{"proj/settings.py": SETTINGS + "task_time_limit = 60  # qlint: ignore[QL101]\n"}))
    assert ("QL009", "proj/settings.py") not in codes(qlint(root, "--format", "json", "."))
    for option in (["--extend-select", "QL009"], ["--report-unused-ignores"], ["--select", "QL009"]):
        assert ("QL009", "proj/settings.py") in codes(qlint(root, "--format", "json", *option, ".")), option
    listed = subprocess.run([sys.executable, "-m", "qlint", "rules"], capture_output=True, text=True)
    assert any(line.startswith("QL009  unused-suppression") for line in listed.stdout.splitlines())
    page = subprocess.run([sys.executable, "-m", "qlint", "rule", "QL009"], capture_output=True, text=True)
    assert page.returncode == 0 and page.stdout.startswith("# QL009 unused-suppression")
    status = json.loads(subprocess.run([sys.executable, "-m", "qlint", "rules", "--format", "json"],
                                       capture_output=True, text=True).stdout)
    assert {"code": "QL009", "status": "opt-in"}.items() <= next(r for r in status if r["code"] == "QL009").items()


def test_each_finding_links_its_rule_page(tmp_path):
    root = write(tmp_path, project(tmp_path))
    [finding] = json.loads(qlint(root, "--format", "json", ".").stdout)["findings"]
    assert finding["url"].startswith("file://") and finding["url"].endswith("/docs/rules/QL301.md")
    from urllib.parse import unquote, urlsplit

    page = Path(unquote(urlsplit(finding["url"]).path)).read_text(encoding="utf-8")
    assert "# QL301 signature-arguments" in page and "## Why it breaks" in page
