"""A dict built one key at a time (`beat_schedule["x"] = {...}` on thousands of lines) costs
work in proportion to the number of keys: each write copies what is there and looks into the
new value only."""
from __future__ import annotations

from qlint.resolve import values as V
from qlint.resolve.values import to_json

APP = 'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n'


def config(count: int) -> str:
    lines = ["beat_schedule = {}"]
    lines += [f"beat_schedule['job{i}'] = {{'task': 'proj.tasks.job{i}', 'schedule': {i}.0, "
              f"'options': {{'queue': 'q{i % 7}'}}}}" for i in range(count)]
    lines.append("beat_schedule['job0'] = {'task': 'proj.tasks.first', 'schedule': 1.0}")  # a key written twice
    return "\n".join(lines) + "\n"


def test_item_writes_cost_in_proportion_to_the_keys(analyse_tree, monkeypatch, tmp_path):
    calls = []
    real = V.is_plain

    def counting(value):
        calls.append(1)
        return real(value)

    monkeypatch.setattr(V, "is_plain", counting)
    work = {}
    for count in (500, 2000):
        calls.clear()
        analysis = analyse_tree({"proj/__init__.py": "", "proj/celery.py": APP, "proj/celeryconfig.py": config(count)})
        schedule = analysis.project.apps[0].setting("beat_schedule")
        work[count] = len(calls)
    assert len(schedule.value) == 2000
    assert schedule.value["job0"] == {"task": "proj.tasks.first", "schedule": 1.0}
    assert to_json(schedule.item("job1999"))["value"]["options"] == {"queue": "q4"}
    assert work[2000] < 6 * work[500]  # four times the keys, not sixteen times the work
