"""INI-style values continued over many lines (systemd's backslashes, supervisord's indents)
are read in time linear in their size (issue 15: a 380 KB unit took 93 s)."""
from __future__ import annotations

import pytest

from qlint.sources.deploy import ini_lines
from qlint.sources.deploy.located import Located
from qlint.sources.deploy.supervisord import read_supervisord
from qlint.sources.deploy.systemd import read_systemd


class CountingLocated(Located):
    """Located, adding up the characters of every value ini_lines makes."""

    made = 0

    def __init__(self, path: str, text: str, positions: tuple[tuple[int, int], ...]) -> None:
        super().__init__(path, text, positions)
        CountingLocated.made += len(text)


@pytest.mark.parametrize("backslash", [True, False])
def test_a_value_continued_over_2000_lines_is_built_once(monkeypatch, backslash):
    monkeypatch.setattr(ini_lines, "Located", CountingLocated)
    CountingLocated.made = 0
    end = " \\" if backslash else ""
    text = "[Service]\nExecStart=celery -A proj worker" + end + "\n" + "".join(
        f"    --opt{i}=value{i}{end}\n" for i in range(2_000)) + "    -l info\n"
    (entry,) = ini_lines.entries("unit", text, backslash_continues=backslash)
    assert entry.value.text.startswith("celery -A proj worker") and entry.value.text.endswith("-l info")
    assert entry.span.end_line == 2_003
    # Each line's characters once when read, once when joined: not the value so far at each line.
    assert CountingLocated.made <= 3 * len(text)


def test_large_units_are_read_whole():
    lines = "".join(f"    --opt{i}=value{i} \\\n" for i in range(10_000))
    unit = read_systemd("w.service", f"[Service]\nExecStart=/usr/bin/celery -A proj worker \\\n{lines}    -c 4\n")
    (process,) = unit.deployments[0].processes
    assert process.command.options["concurrency"].value.value == 4
    program = read_supervisord("supervisord.conf", "[program:w]\ncommand=celery -A proj worker\n"
                               + lines.replace(" \\", "") + "    -c 4\n")
    (process,) = program.deployments[0].processes
    assert process.command.options["concurrency"].value.value == 4
