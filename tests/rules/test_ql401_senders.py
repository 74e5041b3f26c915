"""QL401: a long task counts whoever sends it. A task no code of the project sends is still sent
by someone (another service's send_task, the admin, a scheduler's database); only a task that the
project's fixed beat_schedule alone sends, under Celery's default scheduler, is one message per
period, which a worker's other processes take around."""
from __future__ import annotations

from pathlib import Path

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.rules.prefetch_long_tasks import PrefetchLongTasks
from tests.resolve.conftest import write_tree

APP = 'from celery import Celery\n\napp = Celery("etl")\napp.config_from_object("etl.celeryconfig")\n'
TASKS = """
from etl.celery import app


@app.task(soft_time_limit=3 * 3600)
def rebuild_warehouse(day):
    return day


@app.task
def ping():
    return "pong"
"""
CONFIG = "broker_url = 'redis://redis:6379/0'\n"
# Two replicas of a four-process worker share the default queue.
COMPOSE = """
services:
  worker:
    image: etl
    command: celery -A etl worker -l info -c 4
    deploy:
      replicas: 2
{beat}"""


def check(root: Path, config: str = CONFIG, beat: str = "", **files: str) -> list[Finding]:
    write_tree(root, {"etl/__init__.py": "", "etl/celery.py": APP, "etl/tasks.py": TASKS,
                      "etl/celeryconfig.py": config, "docker-compose.yml": COMPOSE.format(beat=beat), **files})
    return list(PrefetchLongTasks().check(analyse(["."], cwd=root, root=root, use_cache=False).project))


def test_a_long_task_no_code_of_the_project_sends_counts(tmp_path):
    [finding] = check(tmp_path)
    assert finding.message.startswith("worker 'worker' runs long tasks (etl.tasks.rebuild_warehouse soft_time_limit 3 h)")
    assert [(r.span.path, r.span.line) for r in finding.related] == [("etl/tasks.py", 4)]


def test_a_task_only_the_fixed_beat_schedule_sends_is_left_out(tmp_path):
    schedule = "beat_schedule = {'nightly': {'task': 'etl.tasks.rebuild_warehouse', 'schedule': 86400}}\n"
    beat = "  beat:\n    image: etl\n    command: celery -A etl beat -l info\n"
    assert check(tmp_path, CONFIG + schedule, beat) == []


def test_a_database_scheduler_lets_the_admin_send_it_at_any_rate(tmp_path):
    schedule = "beat_schedule = {'nightly': {'task': 'etl.tasks.rebuild_warehouse', 'schedule': 86400}}\n"
    in_settings = CONFIG + schedule + "beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n"
    assert len(check(tmp_path, in_settings)) == 1
    on_command_line = "  beat:\n    image: etl\n    command: celery -A etl beat -S redbeat.RedBeatScheduler\n"
    assert len(check(tmp_path, CONFIG + schedule, on_command_line)) == 1


def test_a_schedule_qlint_cannot_read_does_not_show_beat_alone_sends_it(tmp_path):
    config = CONFIG + "from etl.schedules import SCHEDULE\nbeat_schedule = SCHEDULE\n"
    assert len(check(tmp_path, config, **{"etl/schedules.py": "import yaml\nSCHEDULE = yaml.safe_load(open('s.yml'))\n"})) == 1


def test_short_tasks_nobody_sends_stay_short(tmp_path):
    tasks = TASKS.replace("soft_time_limit=3 * 3600", "soft_time_limit=60")
    assert check(tmp_path, **{"etl/tasks.py": tasks}) == []
