"""What a `qlint` process loads before it answers, and how it ends.

A warm check of an unchanged tree is mostly the interpreter's start-up: these tests hold the
command line to importing only what it runs (no analysis, rules, pydantic or unused report
formats), and its exit to finishing the work an interpreter's exit would (output, exit status,
exit handlers, the cache writer). Times are measured by benchmarks/process_speed.py, never here.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from qlint.scan.cache_writer import wait_for_writer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "incident"

# Modules whose import is most of a cold start and that an unchanged tree does not need.
HEAVY = ("qlint.pipeline.analysis", "qlint.resolve", "qlint.sources.python", "qlint.rules.",
         "qlint.report.sarif", "qlint.report.gitlab", "pydantic", "libcst", "ruamel")

# Runs a command through main() in a fresh interpreter, then writes the modules loaded to the
# file named by the first argument.
_LOADED = """
import json, sys
from qlint.cli import main
out, argv = sys.argv[1], sys.argv[2:]
code = main(argv)
with open(out, "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""


def _loaded(argv: list[str], cwd: Path, tmp_path: Path) -> tuple[int, list[str], str]:
    out = tmp_path / "loaded.json"
    done = subprocess.run([sys.executable, "-c", _LOADED, str(out), *argv], cwd=cwd, capture_output=True, text=True,
                          check=False)
    assert out.exists(), done.stderr
    data = json.loads(out.read_text())
    return data["code"], data["modules"], done.stdout


def _heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if name.startswith(HEAVY)]


def test_the_parser_imports_no_command():
    script = "import sys\nfrom qlint.cli import build_parser\nbuild_parser()\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    modules = done.stdout.split()
    assert not _heavy(modules)
    assert not [name for name in modules if name.startswith(("qlint.pipeline", "qlint.report", "qlint.user_config"))]


def test_an_unchanged_tree_is_answered_without_the_analyser(tmp_path):
    project = tmp_path / "incident"
    shutil.copytree(EXAMPLE, project)
    # The first run, as the command runs it: it stores its result from a forked child after the
    # process has printed its report and ended (exit_process).
    first = subprocess.run([sys.executable, "-m", "qlint", "check", "."], cwd=project, capture_output=True,
                           text=True, check=False)
    assert first.returncode == 1 and "QL101" in first.stdout
    wait_for_writer(project)
    code, modules, stdout = _loaded(["check", "."], project, tmp_path)
    assert (code, stdout) == (1, first.stdout)
    assert not _heavy(modules)
    # The machine formats render the same stored result; only SARIF describes the rules.
    code, modules, stdout = _loaded(["check", "--format", "json", "."], project, tmp_path)
    assert code == 1 and json.loads(stdout)["findings"] and not _heavy(modules)


def test_a_qlint_table_is_read_without_pydantic(tmp_path):
    (tmp_path / ".qlint.toml").write_text('select = ["QL1"]\nexclude = ["legacy"]\nlong-task-seconds = "10m"\n'
                                          '[tasks]\n"a.b" = "3h"\n')
    script = ("import sys\nfrom qlint.user_config.project_config import load_config\n"
              f"config = load_config({str(tmp_path)!r})\n"
              "print(config.select, config.long_task_seconds, config.tasks, 'pydantic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "('QL1',) 600.0 {'a.b': 10800.0} False\n"


def test_the_command_ends_as_the_interpreter_would(tmp_path):
    """Output flushed, exit status kept, exit handlers run (main() ends with os._exit)."""
    script = ("import atexit, sys\n"
              "atexit.register(lambda: print('handler ran'))\n"
              "sys.argv = ['qlint', 'rule', 'QL101']\n"
              "from qlint.cli import main\n"
              "main()\n"
              "print('not reached')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "QL101" in done.stdout and done.stdout.endswith("handler ran\n")
    assert "not reached" not in done.stdout
    usage = subprocess.run([sys.executable, "-m", "qlint", "rule", "QL999"], capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr == "qlint: error: unknown rule 'QL999'; `qlint rules` lists them\n"
    version = subprocess.run([sys.executable, "-m", "qlint", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("qlint ")
    bad = subprocess.run([sys.executable, "-m", "qlint", "check", "--format", "xml"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'xml'" in bad.stderr
