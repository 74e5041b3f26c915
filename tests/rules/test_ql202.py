"""QL202 unserializable-argument on real projects, compared with what Celery and kombu's JSON
serializer really do with the same calls."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.model import Finding
from qlint.user_config.project_config import load_config
from qlint.rules.large_payload_argument import LargePayloadArgument
from qlint.rules.unserializable_argument import UnserializableArgument
from tests.resolve.conftest import write_tree

APP = 'from celery import Celery\n\napp = Celery("proj", broker="memory://")\n'
TASKS = "from proj.celery import app\n\n\n@app.task\ndef refresh(account):\n    return account\n"
MODELS = "from django.db import models\n\n\nclass Account(models.Model):\n    pass\n"
HEADER = "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n"


def analysed(root: Path, files: dict[str, str]):
    write_tree(root, {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": TASKS, **files})
    project = analyse(["."], cwd=root, root=root, use_cache=False).project
    project.config = load_config(root)
    return project


def check(root: Path, code: str, **files: str) -> list[Finding]:
    project = analysed(root, {"proj/models.py": MODELS, "proj/jobs.py": HEADER + code, **files})
    return list(UnserializableArgument().check(project))


def text_at(root: Path, finding: Finding) -> str:
    span = finding.span
    return (root / span.path).read_text().splitlines()[span.line - 1][span.column - 1:span.end_column - 1]


# ---------------------------------------------------------------- what is reported, and where


def test_model_instance_through_an_assignment(tmp_path):
    (finding,) = check(tmp_path, "def f(pk):\n    account = Account.objects.get(pk=pk)\n    refresh.delay(account)\n")
    assert (finding.span.line, text_at(tmp_path, finding)) == (7, "account")
    assert finding.message == (
        "refresh.delay() passes a model instance (Account.objects.get(pk=pk)) as `account`, which the default JSON "
        "serializer cannot encode: the call raises EncodeError and the task is never sent")
    assert [(r.span.path, r.span.line, r.message) for r in finding.related] == [
        ("proj/jobs.py", 6, "the value comes from here"), ("proj/tasks.py", 5, "task proj.tasks.refresh defined here")]
    assert finding.fix.description == "pass the primary key (obj.pk), and fetch the row inside the task"
    assert finding.severity == "error" and finding.code == "QL202"


@pytest.mark.parametrize(("code", "what"), [
    ("def f():\n    refresh.delay(Account.objects.filter(active=True))\n", "a queryset (Account.objects.filter(active=True))"),
    ("def f():\n    for a in Account.objects.all():\n        refresh.delay(a)\n",
     "a model instance from a queryset (Account.objects.all())"),
    ("def f():\n    refresh.delay([Account(name='x')])\n", "a list holding a model instance (Account(name='x'))"),
    ("def f(request):\n    refresh.delay(request.user)\n", "the user model instance (request.user)"),
    ("from django.contrib.auth.models import User\n\n\ndef f():\n    refresh.delay(User.objects.first())\n",
     "a model instance (User.objects.first())"),
    ("from django.shortcuts import get_object_or_404\n\n\ndef f(pk):\n    refresh.delay(get_object_or_404(Account, pk=pk))\n",
     "a model instance (get_object_or_404(Account, pk=pk))"),
    ("def f(request):\n    refresh.delay(request.FILES['doc'])\n", "an uploaded file (request.FILES['doc'])"),
    ("def f(p):\n    with open(p, 'rb') as fh:\n        refresh.delay(fh)\n", "an open file (open(p, 'rb'))"),
    ("from pathlib import Path\n\n\ndef f(p):\n    refresh.delay(Path(p).parent / 'x.csv')\n",
     "a path object (Path(p).parent / 'x.csv')"),
    ("from pathlib import Path\n\n\ndef f(p):\n    refresh.delay(Path(p).open())\n", "an open file (Path(p).open())"),
    ("def f(ids):\n    refresh.delay(set(ids))\n", "a set (set(ids))"),
    ("def f(ids):\n    refresh.delay({i for i in ids})\n", "a set comprehension"),
    ("ALLOWED = frozenset({'a'})\n\n\ndef f():\n    refresh.delay(ALLOWED)\n", "the set ALLOWED"),
    ("import datetime\n\n\ndef f():\n    refresh.delay(datetime.timedelta(minutes=5))\n", "a timedelta (datetime.timedelta(minutes=5))"),
    ("def f(ids):\n    refresh.delay(x * 2 for x in ids)\n", "a generator"),
    ("def f(ids):\n    refresh.delay(map(str, ids))\n", "a map object (map(str, ids))"),
    ("def f():\n    refresh.delay(range(10))\n", "a range object (range(10))"),
    ("def f():\n    refresh.delay(lambda: 1)\n", "a lambda"),
    ("def f():\n    def cb():\n        return 1\n    refresh.delay(cb)\n", "the function cb"),
    ("def helper():\n    return 1\n\n\ndef f():\n    refresh.delay(helper)\n", "the function helper"),
    ("def f():\n    refresh.delay(refresh)\n", "the task object refresh"),
    ("from dataclasses import dataclass\n\n\n@dataclass\nclass Change:\n    n: int\n\n\nclass Sub(Change, object):\n    pass\n\n\n"
     "def f():\n    refresh.delay({'change': Sub(1)})\n", "a dict holding an instance of the class Sub (Sub(1))"),
])
def test_kinds(tmp_path, code, what):
    (finding,) = check(tmp_path, code)
    assert f"passes {what} as `account`," in finding.message


@pytest.mark.parametrize("code", [
    "import datetime, uuid, decimal\n\n\ndef f():\n    refresh.delay([datetime.datetime.now(), datetime.date.today(), "
    "uuid.uuid4(), decimal.Decimal('1'), b'\\xff', (1, 2), {'a': [1]}])\n",
    "def f(pk):\n    refresh.delay(Account.objects.get(pk=pk).pk)\n",
    "def f():\n    refresh.delay(list(Account.objects.values_list('pk', flat=True)))\n",
    "def f(ids):\n    refresh.delay(sorted(set(ids)))\n",
    "def f(ids):\n    refresh.delay([x for x in ids])\n",
    "def f(flag):\n    ids = {1}\n    if flag:\n        ids = [1]\n    refresh.delay(ids)\n",
    "def f(flag):\n    refresh.delay({1} if flag else [1])\n",
    "def f(thing):\n    refresh.delay(thing)\n",
    "def f(p):\n    with lock(p) as held:\n        refresh.delay(held)\n",
    "class Plain:\n    pass\n\n\ndef f():\n    refresh.delay(Plain.objects.get(pk=1))\n",
    "class WithJson:\n    def __json__(self):\n        return {}\n\n\ndef f():\n    refresh.delay(WithJson())\n",
    "class Named(dict):\n    pass\n\n\ndef f():\n    refresh.delay(Named())\n",
    "import enum\n\n\nclass Color(str, enum.Enum):\n    RED = 'r'\n\n\ndef f():\n    refresh.delay(Color.RED)\n",
    "class Factory:\n    pass\n\n\nfactory = Factory()\n\n\ndef f():\n    refresh.delay(factory())\n",
    "def f(x):\n    x = x\n    refresh.delay(x)\n",
    "def f(*args, **kw):\n    refresh.delay(*args, **kw)\n",
    "def f(webbrowser):\n    refresh.delay(webbrowser.open('x'))\n",
    "def f():\n    refresh.s({1, 2}).delay()\n",
])
def test_not_reported(tmp_path, code):
    assert check(tmp_path, code) == []


# ---------------------------------------------------------------- which serializer decides

@pytest.mark.parametrize(("files", "code", "expected"), [
    ({}, "def f():\n    refresh.apply_async(({1},), serializer='pickle')\n", 0),
    ({"proj/tasks.py": TASKS.replace("@app.task\n", "@app.task(serializer='pickle')\n")},
     "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/tasks.py": TASKS.replace("@app.task\n", "@app.task(serializer='pickle')\n")},
     "def f():\n    refresh.apply_async(({1},), serializer='json')\n", 1),
    ({"proj/celery.py": APP + "app.conf.task_serializer = 'pickle'\n"}, "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/celery.py": APP + "app.conf.task_serializer = 'application/json'\n"}, "def f():\n    refresh.delay({1})\n", 1),
    ({"proj/celery.py": APP + "import os\napp.conf.task_serializer = os.environ['SER']\n"},
     "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/celery.py": APP + "app.conf.task_always_eager = True\n"}, "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/celery.py": APP + "import os\nif os.environ.get('T'):\n    app.conf.task_always_eager = True\n"},
     "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/celery.py": APP + "app.conf.task_always_eager = True\n"},
     "from proj.celery import app\n\n\ndef f():\n    app.send_task('proj.tasks.refresh', args=[{1}])\n", 1),
    ({"proj/celery.py": APP + "app.conf.task_routes = {'proj.*': {'queue': 'a', 'serializer': 'pickle'}}\n"},
     "from proj.celery import app\n\n\ndef f():\n    app.send_task('proj.tasks.refresh', args=[{1}])\n", 0),
    ({"proj/celery.py": APP + "app.conf.task_routes = {'proj.*': {'queue': 'a'}}\n"},
     "from proj.celery import app\n\n\ndef f():\n    app.send_task('proj.tasks.refresh', args=[{1}])\n", 1),
    ({}, "from proj.celery import app\n\n\ndef f():\n    app.send_task('elsewhere.task', args=[{1}])\n", 0),
    ({}, "OPTIONS = {}\n\n\ndef f():\n    refresh.apply_async(({1},), **OPTIONS)\n", 0),
    ({}, "def f(fmt):\n    refresh.apply_async(({1},), serializer=fmt)\n", 0),
    ({"proj/celery.py": APP + "import kombu.utils.json\n\n\ndef setup():\n    kombu.utils.json.register_type(set, 'set', list, set)\n"},
     "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/celery.py": APP + "from kombu.serialization import register\n\n\ndef setup():\n"
                              "    register('json', dumps, loads, 'application/json')\n"},
     "def f():\n    refresh.delay({1})\n", 0),
    ({"proj/celery.py": APP + "from kombu.serialization import register\n\nregister('myjson', dumps, loads, 'application/x-myjson')\n"},
     "def f():\n    refresh.delay({1})\n", 1),
])
def test_serializer(tmp_path, files, code, expected):
    assert len(check(tmp_path, code, **files)) == expected


def test_an_explicit_json_serializer_is_a_related_location(tmp_path):
    (finding,) = check(tmp_path, "def f():\n    refresh.apply_async(\n        ({1},),\n        serializer='json',\n    )\n")
    assert "which the JSON serializer cannot encode" in finding.message
    assert (finding.related[0].span.line, finding.related[0].message) == (8, "JSON is chosen here")


# ---------------------------------------------------------------- QL201 and QL202 on the same argument


@pytest.mark.parametrize(("serializer", "ql201", "ql202"), [("json", 0, 1), ("pickle", 1, 0)])
def test_one_report_per_model_argument(tmp_path, serializer, ql201, ql202):
    project = analysed(tmp_path, {
        "proj/celery.py": APP + f"app.conf.task_serializer = {serializer!r}\n", "proj/models.py": MODELS,
        "proj/jobs.py": HEADER + "def f(request):\n    refresh.delay(request.user)\n    refresh.delay(Account.objects.get(pk=1))\n"})
    assert len(list(LargePayloadArgument().check(project))) == 2 * ql201
    assert len(list(UnserializableArgument().check(project))) == 2 * ql202


# ---------------------------------------------------------------- what Celery does with the same calls

CALLS = {
    "a_set": "refresh.delay({1, 2})",
    "a_frozenset": "refresh.delay(frozenset(['a']))",
    "a_timedelta": "refresh.delay(timedelta(hours=1))",
    "a_path": "refresh.delay(Path('/srv') / 'data.csv')",
    "a_generator": "refresh.delay(n for n in range(3))",
    "a_range": "refresh.delay(range(3))",
    "a_zip": "refresh.delay(zip([1], [2]))",
    "a_lambda": "refresh.delay(lambda: 1)",
    "a_function": "refresh.delay(helper)",
    "a_task": "refresh.delay(refresh)",
    "an_open_file": "handle = open(__file__)\n    refresh.delay(handle)",
    "a_dataclass": "refresh.apply_async(args=[{'change': Change(1)}])",
    "sent_by_name": "app.send_task('proj.tasks.refresh', args=[{1}])",
    "with_json_method": "refresh.delay(Exported())",
    "datetimes_and_more": "refresh.delay([datetime.now(), date.today(), uuid.uuid4(), Decimal('2.5'), b'\\xff', (1, 2)])",
    "a_sorted_set": "refresh.delay(sorted({3, 1}))",
    "pickled": "refresh.apply_async(({1, 2},), serializer='pickle')",
    "a_str_enum": "refresh.delay(Color.RED)",
}
SENDERS = """import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path

from proj.celery import app
from proj.tasks import refresh


def helper():
    return 1


@dataclass
class Change:
    account: int


class Exported:
    def __json__(self):
        return {"exported": True}


class Color(str, Enum):
    RED = "red"
""" + "".join(f"\n\ndef {name}():\n    {call}\n" for name, call in CALLS.items())

RUN_SENDERS = """
import json, sys
sys.path.insert(0, {root!r})
from kombu.exceptions import EncodeError
from proj import senders
from proj.celery import app
app.conf.accept_content = ["json", "pickle"]
outcome = {{}}
for name in {names!r}:
    try:
        getattr(senders, name)()
        outcome[name] = "sent"
    except EncodeError as exc:
        outcome[name] = "EncodeError"
print(json.dumps(outcome))
"""


def test_reported_exactly_where_celery_raises_encode_error(tmp_path):
    project = analysed(tmp_path, {"proj/senders.py": SENDERS})
    reported = {next(n for n in CALLS if f"def {n}():" in line)
                for f in UnserializableArgument().check(project)
                for line in [_function_line(tmp_path / f.span.path, f.span.line)]}
    done = subprocess.run([sys.executable, "-c", RUN_SENDERS.format(root=str(tmp_path), names=list(CALLS))],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    refused = {name for name, result in outcome.items() if result == "EncodeError"}
    assert refused == set(CALLS) - {"with_json_method", "datetimes_and_more", "a_sorted_set", "pickled", "a_str_enum"}
    assert reported == refused


def _function_line(path: Path, line: int) -> str:
    lines = path.read_text().splitlines()[:line]
    return next(text for text in reversed(lines) if text.startswith("def "))
