"""The editor configurations in editors/ and the README: valid, and the same in both places."""
from __future__ import annotations

import json
import re
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def editor_section() -> str:
    return README.split("## In the editor", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    section = editor_section()
    return [textwrap.dedent(b) for b in re.findall(rf"```{language}\n(.*?)```", section, re.S)]


def test_vscode_settings_in_the_readme_are_the_shipped_file():
    [shown] = blocks("json")
    assert json.loads(shown) == json.loads((ROOT / "editors/vscode-settings.json").read_text())
    assert json.loads(shown)["glspc.server.commandArguments"] == ["lsp"]


def test_helix_configuration_parses_and_names_the_server():
    shipped = tomllib.loads((ROOT / "editors/languages.toml").read_text())
    [shown] = blocks("toml")
    shown_toml = tomllib.loads(shown)
    for config in (shipped, shown_toml):
        assert config["language-server"]["qlint"] == {"command": "qlint", "args": ["lsp"]}
        python = next(lang for lang in config["language"] if lang["name"] == "python")
        assert "qlint" in python["language-servers"]


def test_the_editor_files_the_readme_names_exist():
    section = editor_section()
    for name in set(re.findall(r"`(editors/[^`]+)`", section)):
        assert (ROOT / name).is_file(), name
