"""Check issue 17's table against real Celery releases, each in a fresh virtualenv (not in CI).

    python scripts/check_release_table.py                  # 5.2.3 5.4.0 5.5.3 5.6.3 5.7.0
    python scripts/check_release_table.py 5.3.6 5.6.3      # other releases
    python scripts/check_release_table.py --keep /tmp/venvs  # keep (and reuse) the virtualenvs

For each release: a virtualenv with `celery==X` and Django, and a Django project whose settings
module holds old names (CELERY_QUEUES, CELERY_ACKS_LATE, CELERYD_PREFETCH_MULTIPLIER), read with
config_from_object("django.conf:settings", namespace="CELERY") by a real Celery app, which prints
what it reads. A second project checks the other lookup difference: a value written on the app
(app.conf.task_acks_late = True) against the settings' CELERY_TASK_ACKS_LATE = False.

Then qlint (this checkout, in this process) analyses the same two projects with a requirements.txt
pinning that release, and the script prints both side by side. Exit status 1 when qlint and Celery
disagree on any value, so the claim qlint's catalog makes (old names under a namespace are read
from 5.7 on only; the app's value beats the namespaced key from 5.7 on only) is checked for real.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import venv
from pathlib import Path

DEFAULT = ("5.2.3", "5.4.0", "5.5.3", "5.6.3", "5.7.0")
SETTINGS = ("task_queues", "task_acks_late", "worker_prefetch_multiplier")

MANAGE = "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_conf.settings')\n"
CELERY_MODULE = textwrap.dedent("""
    from celery import Celery

    app = Celery("site_conf", set_as_current=False)
    {before}
    app.config_from_object("django.conf:settings", namespace="CELERY")
""")
OLD_NAMES = textwrap.dedent("""
    SECRET_KEY = "not-secret"
    CELERY_BROKER_URL = "memory://"
    CELERY_QUEUES = ["default", "reports"]
    CELERY_ACKS_LATE = True
    CELERYD_PREFETCH_MULTIPLIER = 1
""")
APP_WRITE = textwrap.dedent("""
    SECRET_KEY = "not-secret"
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ACKS_LATE = False
""")
PROJECTS = {
    "old-names": (OLD_NAMES, "", SETTINGS),
    "app-write": (APP_WRITE, "app.conf.task_acks_late = True", ("task_acks_late",)),
}
# Run by the virtualenv's Python in a project folder: what the real Celery reads.
READ = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_conf.settings")
    import django
    django.setup()
    import celery
    from site_conf.celery_app import app
    print(json.dumps({"celery": celery.__version__, **{name: app.conf[name] for name in sys.argv[1:]}}, default=repr))
""")


def write_project(folder: Path, settings: str, before: str, version: str) -> None:
    (folder / "site_conf").mkdir(parents=True, exist_ok=True)
    (folder / "manage.py").write_text(MANAGE)
    (folder / "site_conf" / "__init__.py").write_text("")
    (folder / "site_conf" / "settings.py").write_text(settings)
    (folder / "site_conf" / "celery_app.py").write_text(CELERY_MODULE.format(before=before))
    (folder / "requirements.txt").write_text(f"Django>=4.2\ncelery=={version}\n")


def virtualenv(version: str, keep: Path | None, scratch: Path) -> Path:
    folder = (keep or scratch) / f"celery-{version}"
    python = folder / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               f"celery=={version}", "Django>=4.2,<6"], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"pip install celery=={version} failed:\n{done.stderr}")
    return python


def celery_reads(python: Path, project: Path, names: tuple[str, ...]) -> dict:
    done = subprocess.run([str(python), "-c", READ, *names], cwd=project, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{python} could not read {project}:\n{done.stderr}")
    return json.loads(done.stdout)


def qlint_reads(project: Path, names: tuple[str, ...]) -> tuple[dict, str]:
    from qlint.pipeline.analysis import analyse

    analysis = analyse(["."], cwd=project, root=project, use_cache=False)
    (app,) = analysis.project.apps
    values = {}
    for name in names:
        value = app.setting(name)
        values[name] = value.value if value.status in ("known", "default") else f"<{value.status}>"
    return values, analysis.project.versions.celery.describe()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(DEFAULT))
    parser.add_argument("--keep", type=Path, help="folder for the virtualenvs, kept and reused")
    args = parser.parse_args(argv)
    disagreements = 0
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for version in args.versions:
            python = virtualenv(version, args.keep, Path(scratch))
            for label, (settings, before, names) in PROJECTS.items():
                project = Path(scratch) / f"{label}-{version}"
                write_project(project, settings, before, version)
                real = celery_reads(python, project, names)
                ours, release = qlint_reads(project, names)
                for name in names:
                    agree = json.dumps(real[name], default=repr) == json.dumps(ours[name], default=repr)
                    disagreements += not agree
                    rows.append((real["celery"], release, label, name, real[name], ours[name], agree))
    width = max(len(repr(r[4])) for r in rows)
    print(f"{'celery':<8} {'qlint':<12} {'project':<10} {'setting':<27} {'Celery reads':<{width}}  qlint says")
    for installed, release, label, name, real, ours, agree in rows:
        print(f"{installed:<8} {release:<12} {label:<10} {name:<27} {real!r:<{width}}  {ours!r}"
              f"{'' if agree else '   <-- differs'}")
    print(f"\n{len(rows) - disagreements} of {len(rows)} values agree")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
