"""qlint's own configuration, read from real files written to temporary folders."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from qlint.user_config.project_config import (
    BROKER_SCHEMES,
    DEFAULT_LONG_TASK_SECONDS,
    DEFAULT_PAYLOAD_LITERAL_BYTES,
    ROOT_MARKERS,
    ConfigError,
    config_from_table,
    find_project_root,
    is_excluded,
    is_selected,
    load_config,
    path_matches,
    per_file_ignored,
)

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_defaults_when_there_is_no_file(tmp_path):
    config = load_config(tmp_path)
    assert config.source is None and config.root == tmp_path.resolve()
    assert config.select is None and config.ignore == () and config.exclude == ()
    assert config.long_task_seconds == DEFAULT_LONG_TASK_SECONDS == 300
    assert config.payload_literal_bytes == DEFAULT_PAYLOAD_LITERAL_BYTES == 64 * 1024
    assert config.broker is None and config.tasks == {}


def test_pyproject_table(tmp_path):
    pyproject = write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "insights"

        [tool.qlint]
        select = ["QL1", "ql4"]
        ignore = ["QL102"]
        extend-select = ["QL201"]
        exclude = ["migrations", "legacy/**"]
        per-file-ignores = { "settings/local.py" = ["QL101"] }
        long-task-seconds = "5m"
        broker = "rediss://cache.internal:6380/0"
        payload-literal-bytes = "1 MiB"

        [tool.qlint.tasks]
        "reports.build" = "3h"
        "uploads.tasks.process_upload" = 90
        """,
    )
    config = load_config(tmp_path)
    assert config.source == pyproject and config.root == tmp_path.resolve()
    assert config.select == ("QL1", "QL4") and config.ignore == ("QL102",) and config.extend_select == ("QL201",)
    assert config.exclude == ("migrations", "legacy/**")
    assert config.per_file_ignores == {"settings/local.py": ("QL101",)}
    assert config.long_task_seconds == 300
    assert config.broker == "rediss"
    assert config.payload_literal_bytes == 1024 * 1024
    assert config.tasks == {"reports.build": 10800, "uploads.tasks.process_upload": 90}


def test_pyproject_without_a_qlint_table_gives_defaults(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n[tool.black]\nline-length = 100\n')
    config = load_config(tmp_path)
    assert config.source is None and config.long_task_seconds == 300


def test_dot_qlint_toml_holds_top_level_keys_and_wins(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.qlint]\nlong-task-seconds = 60\n")
    dot = write(tmp_path / ".qlint.toml", 'long-task-seconds = "2h"\n[tasks]\n"a.b" = "1h30m"\n')
    config = load_config(tmp_path)
    assert config.source == dot
    assert config.long_task_seconds == 7200 and config.tasks == {"a.b": 5400}


def test_dot_qlint_toml_with_a_tool_table_is_explained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".qlint.toml", "[tool.qlint]\nlong-task-seconds = 60\n")
    with pytest.raises(ConfigError, match=r"^\.qlint\.toml holds its keys at the top level"):
        load_config(tmp_path)


def test_unknown_key_names_the_file_and_suggests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pyproject.toml", "[tool.qlint]\nlong-task-second = 600\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert error.value.message == (
        "unknown key 'long-task-second' in [tool.qlint] of pyproject.toml; did you mean 'long-task-seconds'?"
    )


def test_snake_case_keys_are_unknown_with_the_kebab_spelling_suggested(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'per_file_ignores'.*did you mean 'per-file-ignores'"):
        config_from_table({"per_file_ignores": {}})


def test_a_key_far_from_any_lists_the_known_keys():
    with pytest.raises(ConfigError, match="unknown key 'colour' in .*known keys: baseline, broker, celery-version, exclude"):
        config_from_table({"colour": True})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('long-task-seconds = "soon"', "invalid value for 'long-task-seconds' in [tool.qlint] of pyproject.toml: "
         "invalid duration 'soon'"),
        ("long-task-seconds = 0", "'long-task-seconds' in [tool.qlint] of pyproject.toml: must be more than 0"),
        ("long-task-seconds = true", "invalid duration True"),
        ('broker = "rabbit"', "unknown broker scheme 'rabbit'"),
        ('broker = "reddis"', "did you mean 'redis'?"),
        ("payload-literal-bytes = -1", "invalid value for 'payload-literal-bytes'"),
        ('payload-literal-bytes = "big"', "invalid size 'big'"),
        ('select = "QL101"', "invalid value for 'select' in [tool.qlint] of pyproject.toml: expected a list"),
        ('select = ["QL101", "E501"]', "invalid value for 'select[1]'"),
        ('ignore = ["QL1O1"]', "'QL1O1' is not a rule code or prefix"),
        ('exclude = "build"', "invalid value for 'exclude'"),
        ('per-file-ignores = { "a.py" = "QL101" }', "invalid value for 'per-file-ignores.\"a.py\"'"),
        ('[tool.qlint.tasks]\n"reports.build" = "three hours"',
         "invalid value for 'tasks.\"reports.build\"' in [tool.qlint] of pyproject.toml: invalid duration"),
        ("tasks = 3", "invalid value for 'tasks' in [tool.qlint] of pyproject.toml: expected a table, got 3"),
    ],
)
def test_bad_values_name_key_file_and_problem(tmp_path, monkeypatch, toml, message):
    monkeypatch.chdir(tmp_path)
    header = "" if toml.startswith("[tool.qlint.") else "[tool.qlint]\n"
    write(tmp_path / "pyproject.toml", header + toml + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert message in error.value.message


def test_every_problem_is_reported_at_once(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.qlint]\nbroker = "x"\nlong-task-secs = 1\nselect = ["nope"]\n')
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    lines = error.value.message.splitlines()
    assert len(lines) == 3
    assert any("'broker'" in line for line in lines) and any("'long-task-secs'" in line for line in lines)


def test_syntax_error_and_undecodable_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pyproject.toml", "[tool.qlint]\nselect = [QL101\n")
    with pytest.raises(ConfigError, match=r"^cannot parse pyproject\.toml: .*line 2"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.qlint]\nbroker = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="cannot parse pyproject.toml"):
        load_config(tmp_path)


def test_qlint_table_that_is_not_a_table(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool]\nqlint = "strict"\n')
    with pytest.raises(ConfigError, match=r"\[tool.qlint\] of .* must be a table"):
        load_config(tmp_path)


def test_this_repository_configures_itself():
    config = load_config(REPO)
    assert config.source == REPO / "pyproject.toml"
    assert is_excluded(REPO / "examples" / "incident" / "settings.py", config)
    assert not is_excluded(REPO / "qlint" / "engine.py", config)


def test_broker_schemes_are_kombu_transports():
    from kombu.transport import TRANSPORT_ALIASES

    assert BROKER_SCHEMES <= {alias.lower() for alias in TRANSPORT_ALIASES}
    assert {"redis", "rediss", "sentinel", "sqs", "amqp"} <= BROKER_SCHEMES


# --- project root -------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ROOT_MARKERS)
def test_project_root_is_the_nearest_folder_with_a_marker(tmp_path, marker):
    project = tmp_path / "work" / "proj"
    settings = write(project / "proj" / "settings" / "production.py", "DEBUG = False\n")
    if marker == ".git":
        (project / ".git").mkdir()
    else:
        write(project / marker, "")
    assert find_project_root(settings) == project.resolve()
    assert find_project_root(settings.parent) == project.resolve()


def test_git_file_of_a_worktree_marks_the_root(tmp_path):
    write(tmp_path / "wt" / ".git", "gitdir: /elsewhere/.git/worktrees/wt\n")
    module = write(tmp_path / "wt" / "app" / "tasks.py", "")
    assert find_project_root(module) == (tmp_path / "wt").resolve()


def test_nested_project_stops_at_the_inner_marker(tmp_path):
    (tmp_path / ".git").mkdir()
    inner = tmp_path / "services" / "billing"
    write(inner / "manage.py", "")
    assert find_project_root(write(inner / "billing" / "celery.py", "")) == inner.resolve()


def test_without_markers_the_folder_itself(tmp_path):
    folder = tmp_path / "loose"
    module = write(folder / "celeryconfig.py", "")
    ancestors = [tmp_path.resolve(), *tmp_path.resolve().parents]
    if any((a / m).exists() for a in ancestors for m in ROOT_MARKERS):
        pytest.skip("a folder above the temporary directory holds a project marker")
    assert find_project_root(module) == folder.resolve()
    assert find_project_root(folder) == folder.resolve()


# --- selection ------------------------------------------------------------------------------


def cfg(**table) -> object:
    return config_from_table({key.replace("_", "-"): value for key, value in table.items()})


@pytest.mark.parametrize(
    ("table", "cli", "code", "expected"),
    [
        ({}, {}, "QL101", True),
        ({"ignore": ["QL1"]}, {}, "QL101", False),
        ({"ignore": ["QL1"]}, {}, "QL401", True),
        ({"select": ["QL1"]}, {}, "QL401", False),
        ({"select": ["QL101"], "ignore": ["QL1"]}, {}, "QL101", True),  # longer select wins
        ({"select": ["QL1"], "ignore": ["QL101"]}, {}, "QL101", False),  # longer ignore wins
        ({"select": ["QL1"], "ignore": ["QL101"]}, {}, "QL102", True),
        ({"select": ["QL101"], "ignore": ["QL101"]}, {}, "QL101", False),  # a tie: ignored
        ({"ignore": ["QL"]}, {}, "QL101", False),
        ({"ignore": ["QL"], "extend_select": ["QL4"]}, {}, "QL401", True),
        ({"select": ["QL1"], "extend_select": ["QL4"]}, {}, "QL401", True),
        ({"select": ["QL1"]}, {"cli_extend_select": ["QL401"]}, "QL401", True),
        ({"ignore": ["QL4"]}, {"cli_select": ["QL401"]}, "QL401", True),  # --select drops the file's ignore
        ({"select": ["QL4"]}, {"cli_select": ["QL1"]}, "QL401", False),
        ({}, {"cli_ignore": ["QL101"]}, "QL101", False),
        ({"select": ["QL101"]}, {"cli_ignore": ["QL1"]}, "QL101", True),
        ({}, {"cli_select": ["ql1"]}, "QL102", True),
        ({}, {"cli_select": []}, "QL101", False),
    ],
)
def test_is_selected(table, cli, code, expected):
    assert is_selected(code, cfg(**table), **cli) is expected


def test_selection_drives_the_registry_rules():
    from qlint.rules import all_rules

    codes = [rule.code for rule in all_rules()]
    stable = [rule.code for rule in all_rules() if rule.status == "stable"]
    assert [c for c in codes if is_selected(c, cfg())] == stable
    assert [c for c in codes if is_selected(c, cfg(ignore=["QL1"]))] == [c for c in stable if not c.startswith("QL1")]


def test_bad_cli_code_is_a_config_error():
    with pytest.raises(ConfigError, match=r"invalid value for --select: 'QLX' is not a rule code"):
        is_selected("QL101", cfg(), cli_select=["QLX"])


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("migrations", "app/migrations/0001_initial.py", True),
        ("migrations/", "migrations/0001_initial.py", True),
        ("migrations", "app/migrationsx/a.py", False),
        ("__init__.py", "proj/sub/__init__.py", True),
        ("test_*.py", "tests/unit/test_tasks.py", True),
        ("settings/*.py", "settings/local.py", True),
        ("settings/*.py", "proj/settings/local.py", False),
        ("*/settings/*.py", "proj/settings/local.py", True),
        ("**/settings/*.py", "settings/local.py", True),
        ("**/settings/*.py", "a/b/settings/local.py", True),
        ("legacy/**", "legacy/a/b/c.py", True),
        ("legacy/**", "legacyx/a.py", False),
        ("./examples", "examples/incident/settings.py", True),
        ("proj/tasks.py", "proj/tasks.py", True),
        ("proj/tasks.py", "other/proj/tasks.py", False),
        ("proj/task?.py", "proj/tasks.py", True),
        ("proj/[!t]*.py", "proj/tasks.py", False),
        ("proj/[!t]*.py", "proj/views.py", True),
        ("*.py", "../outside.py", False),
    ],
)
def test_path_matches(pattern, path, expected):
    assert path_matches(pattern, path) is expected


def test_per_file_ignores(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        """
        [tool.qlint.per-file-ignores]
        "proj/settings/local.py" = ["QL101"]
        "scripts/**" = ["QL2"]
        """,
    )
    config = load_config(tmp_path)
    assert per_file_ignored("QL101", "proj/settings/local.py", config)
    assert not per_file_ignored("QL401", "proj/settings/local.py", config)
    assert not per_file_ignored("QL101", "proj/settings/production.py", config)
    assert per_file_ignored("QL201", "scripts/backfill/run.py", config)
    assert per_file_ignored("QL201", tmp_path / "scripts" / "run.py", config)  # absolute paths too
    assert not per_file_ignored("QL301", "scripts/run.py", config)


def test_exclude_is_relative_to_the_config_folder(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.qlint]\nexclude = ["vendor", "proj/generated/**"]\n')
    config = load_config(tmp_path)
    assert is_excluded("vendor/celery_compat.py", config)
    assert is_excluded(tmp_path / "proj" / "generated" / "x.py", config)
    assert not is_excluded("proj/tasks.py", config)
    assert not is_excluded(tmp_path.parent / "vendor" / "x.py", config)


@pytest.mark.parametrize(("given", "release"), [("5.5", "5.5"), ("5.5.3", "5.5"), ("4.4", "4.4"), (" 5.7 ", "5.7")])
def test_celery_version_names_a_known_release(given, release):
    assert config_from_table({"celery-version": given}).celery_version == release


@pytest.mark.parametrize(("given", "problem"), [
    ("5.8", "'5.8' is not a Celery release qlint knows (4.4, 5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7)"),
    ("3.1", "'3.1' is not a Celery release qlint knows"),
    (5.5, 'expected a Celery release as a string such as "5.7", got 5.5'),
])
def test_celery_version_rejects_what_qlint_cannot_judge(given, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        config_from_table({"celery-version": given})


def test_a_pyproject_that_does_not_mention_qlint_is_not_parsed(tmp_path):
    """A cookiecutter's `{{cookiecutter.project_slug}}/pyproject.toml` is a Jinja template, not TOML:
    a sub-project without qlint's configuration is not qlint's to parse, nor to fail on."""
    from qlint.user_config.project_config import config_in

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "{{ cookiecutter.project_slug }}"\n{% if x %}\n')
    assert config_in(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[tool.qlint]\nselect = [\n")
    with pytest.raises(ConfigError):
        config_in(tmp_path)


@pytest.mark.parametrize("table", [
    {},
    {"select": ["QL1", " ql4 "], "ignore": ("QL102",), "extend-select": ["QL201"], "exclude": ["migrations", "a/**"]},
    {"per-file-ignores": {"settings/local.py": ["QL101"], "tests/*": []}, "baseline": "qlint-baseline.json"},
    {"long-task-seconds": "5m", "broker": "rediss://cache:6380/0", "payload-literal-bytes": "1 MiB"},
    {"long-task-seconds": 90, "payload-literal-bytes": 1000, "celery-version": "5.5.3", "broker": "SQS"},
    {"tasks": {"reports.build": "3h", "uploads.parse": 90, "x": 1.5}, "select": []},
])
def test_a_well_formed_table_is_read_as_the_model_reads_it(table):
    """config_from_table reads well-formed tables itself (pydantic's import and the model's
    construction cost more than the rest of a warm check); the model reads them the same."""
    from qlint.user_config.project_config import QlintConfig, _model, _read

    model = _model().model_validate(table)
    assert _read(table) == {name: getattr(model, name) for name in (key.replace("-", "_") for key in table)}
    expected = QlintConfig(**{name: getattr(model, name) for name in type(model).model_fields}, root=Path.cwd())
    assert config_from_table(table, root=Path.cwd()) == expected


@pytest.mark.parametrize("table", [
    {"select": "QL101"}, {"select": None}, {"exclude": [1]}, {"per-file-ignores": {"a.py": "QL101"}},
    {"long_task_seconds": 60}, {"tasks": 3}, {"broker": "rabbit"}, {"baseline": 1}, {"root": "."},
])
def test_anything_else_is_left_to_the_model(table):
    from qlint.user_config.project_config import _read

    assert _read(table) is None
