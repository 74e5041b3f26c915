"""QL504 over a large schedule and routing table does work linear in their entries (issue 15:
120,000 beat_schedule and task_routes entries took more than 90 s, looking each entry up
from the start of the setting's items)."""
from __future__ import annotations

import dataclasses

from qlint.resolve.resolved import App
from qlint.resolve.workspace import Workspace
from qlint.rules.unregistered_task_name import UnregisteredTaskName
from tests.rules.test_ql504 import check


class CountingItems(tuple):
    """A Value's items, counting the entries anything iterates over."""

    stepped = 0

    def __iter__(self):
        for entry in super().__iter__():
            CountingItems.stepped += 1
            yield entry


def test_a_3000_entry_schedule_and_routing_table(tmp_path, monkeypatch):
    entries = 3_000
    config = ("beat_schedule = {\n" + "".join(f"    'e{i}': {{'task': 'proj.tasks.t{i}', 'schedule': 60}},\n"
                                              for i in range(entries))
              + "}\ntask_routes = {\n" + "".join(f"    'proj.tasks.r{i}': {{'queue': 'q'}},\n" for i in range(entries))
              + "}\n")
    setting = App.setting

    def counted(app: App, name: str):
        value = setting(app, name)
        if name in ("beat_schedule", "task_routes") and value.items:
            return dataclasses.replace(value, items=CountingItems(value.items))
        return value

    resolved = Workspace.resolved_names
    reads: list[str] = []

    def read_names(workspace: Workspace, env):
        reads.append(env.path)
        return resolved(workspace, env)

    monkeypatch.setattr(App, "setting", counted)
    monkeypatch.setattr(Workspace, "resolved_names", read_names)
    CountingItems.stepped = 0
    found = check(tmp_path, {"proj/celeryconfig.py": config})
    assert len(found) == 2 * entries
    assert {f.span.line for f in found} == {*range(2, entries + 2), *range(entries + 4, 2 * entries + 4)}
    assert CountingItems.stepped <= 2 * 2 * entries  # each entry once or twice, not once per entry before it
    assert reads.count("proj/tasks.py") == 1  # the module's names read once, not once per name
    assert UnregisteredTaskName.code == "QL504"
