"""QL201 large-payload-argument on real projects: spans, messages, related locations."""
from __future__ import annotations

from pathlib import Path

import pytest

from qlint.pipeline.analysis import analyse
from qlint.user_config.project_config import load_config
from qlint.rules.large_payload_argument import LargePayloadArgument

APP = 'from celery import Celery\n\napp = Celery("proj")\n'
TASKS = """from proj.celery import app


@app.task
def ingest(content, filename):
    return filename


@app.task
def refresh(account):
    return account
"""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def check(tmp_path: Path, code: str, pyproject: str = "", **extra: str):
    files = {"proj/__init__.py": "", "proj/celery.py": APP, "proj/tasks.py": TASKS, "proj/jobs.py": code, **extra}
    if pyproject:
        files["pyproject.toml"] = pyproject
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    project = analyse(["."], cwd=tmp_path, root=tmp_path, use_cache=False).project
    project.config = load_config(tmp_path)
    return list(LargePayloadArgument().check(project))


def where(finding) -> tuple[int, int, int]:
    return finding.span.line, finding.span.column, finding.span.end_column


def text_at(source: str, finding) -> tuple[int, str]:
    """The reported line and the exact source text the finding's span covers (on one line)."""
    span = finding.span
    assert span.end_line == span.line
    return span.line, source.splitlines()[span.line - 1][span.column - 1:span.end_column - 1]


def test_uploaded_file_read_through_assignments(tmp_path):
    (finding,) = check(tmp_path, (
        "from proj.tasks import ingest\n\n\n"
        "def upload(request):\n"
        "    uploaded = request.FILES['file']\n"
        "    content = uploaded.read()\n"
        "    ingest.delay(content, uploaded.name)\n"
    ))
    assert where(finding) == (7, 18, 25)
    assert finding.message.startswith(
        "ingest.delay() passes the contents of an uploaded file (uploaded.read()) as `content`:")
    assert finding.severity == "warning" and finding.code == "QL201"
    related = [(r.span.path, r.span.line, r.span.column) for r in finding.related]
    assert related == [("proj/jobs.py", 6, 15), ("proj/tasks.py", 5, 5)]
    assert "path, key or id" in finding.fix.description


@pytest.mark.parametrize(("code", "span", "what"), [
    ("def f(path):\n    with open(path, 'rb') as fh:\n        data = fh.read()\n    ingest.apply_async(args=(data, path))\n",
     (7, 'data'), "the contents of a file (fh.read())"),
    ("def f(path):\n    ingest.delay(open(path).read(), path)\n", (5, 'open(path).read()'), "the contents of a file (open(path).read())"),
    ("from pathlib import Path\n\n\ndef f(p):\n    ingest.s(Path(p).read_text(), p)\n", (8, 'Path(p).read_text()'),
     "the contents of a file (Path(p).read_text())"),
    ("import base64\n\n\ndef f(request):\n    ingest.delay(base64.b64encode(request.FILES.get('doc').read()).decode(), 'x')\n",
     (8, "base64.b64encode(request.FILES.get('doc').read()).decode()"), "a base64 encoding of the contents of an uploaded file (request.FILES.get('doc').read())"),
    ("import pandas as pd\n\n\ndef f(path):\n    frame = pd.read_csv(path)\n    ingest.delay(frame.head(100).to_json(), path)\n",
     (9, 'frame.head(100).to_json()'), "a dump of a dataframe (pd.read_csv(path)) (frame.head(100).to_json())"),
    ("def f(request, fast):\n    data = request.FILES['f'].name\n    if not fast:\n        data = request.FILES['f'].read()\n    ingest.delay(data, 'x')\n",
     (8, 'data'), "the contents of an uploaded file (request.FILES['f'].read())"),
])
def test_data_carrying_arguments(tmp_path, code, span, what):
    source = "from proj.tasks import ingest\n\n\n" + code
    (finding,) = check(tmp_path, source)
    assert text_at(source, finding) == span
    assert f" passes {what} as `content`:" in finding.message


@pytest.mark.parametrize(("code", "span", "what"), [
    ("def f():\n    refresh.delay(Account.objects.get(pk=1))\n", (6, 'Account.objects.get(pk=1)'), "a model instance (Account.objects.get(pk=1))"),
    ("def f():\n    refresh.delay(list(Account.objects.filter(active=True)))\n", (6, 'list(Account.objects.filter(active=True))'),
     "a list of model instances (a queryset (Account.objects.filter(active=True)))"),
    ("def f():\n    for account in Account.objects.all():\n        refresh.delay(account)\n", (7, 'account'),
     "a model instance from a queryset (Account.objects.all())"),
    ("from django.shortcuts import get_object_or_404\n\n\ndef f(pk):\n    refresh.delay(get_object_or_404(Account, pk=pk))\n",
     (9, 'get_object_or_404(Account, pk=pk)'), "a model instance (get_object_or_404(Account, pk=pk))"),
])
def test_model_instances_and_querysets(tmp_path, code, span, what):
    # Account is not a Django model here, so QL202 cannot be sure the JSON serializer refuses it and
    # QL201 reports; request.user under JSON goes to QL202 (tests/rules/test_ql202.py).
    source = "from proj.models import Account\nfrom proj.tasks import refresh\n\n\n" + code
    (finding,) = check(tmp_path, source, **{"proj/models.py": "class Account:\n    pass\n"})
    assert text_at(source, finding) == span
    assert f" passes {what} as `account`: " in finding.message
    assert "primary key" in finding.fix.description


def test_literal_size_follows_payload_literal_bytes(tmp_path):
    code = "from proj.tasks import ingest\n\nSEED = '" + "z" * 3000 + "'\n\n\ndef f():\n    ingest.delay(SEED, 'seed')\n"
    assert check(tmp_path / "default", code) == []
    (finding,) = check(tmp_path / "small", code, pyproject="[tool.qlint]\npayload-literal-bytes = \"2 KiB\"\n")
    assert where(finding) == (7, 18, 22)
    assert "passes a literal of 3 KiB (SEED) as `content`" in finding.message
    assert [(r.span.line, r.span.column) for r in finding.related][0] == (3, 1)


@pytest.mark.parametrize("code", [
    "def f(request):\n    ingest.delay(request.FILES['f'].name, request.FILES['f'].size)\n",
    "def f(request):\n    upload = request.FILES['f']\n    ingest.delay(len(upload.read()), upload.name)\n",
    "import uuid\n\n\ndef f():\n    ingest.delay(str(uuid.uuid4()), 'https://example.com/a.csv')\n",
    "def f(request):\n    ingest.delay(request.user.pk, request.user.id)\n",
    "def f():\n    ingest.delay(list(Account.objects.values_list('id', flat=True)), 'ids')\n",
    "def f(account_id):\n    account = Account.objects.get(pk=account_id)\n    ingest.delay(account.pk, account.name)\n",
    "def f(blob, other):\n    ingest.delay(blob.read(), other.read_bytes)\n",
    "def f(path, sender):\n    sender.delay(open(path).read(), path)\n",
    "def f(path):\n    with open(path) as fh:\n        pass\n    ingest.delay(fh.name, path)\n",
    "def f(request):\n    for name in request.FILES:\n        ingest.delay(name, name)\n",
    # a request body is mostly a few fields of JSON: the task's input, not a payload to store
    "def f(request):\n    ingest.delay(request.data, 'api')\n",
    "def f(request):\n    ingest.delay(request.body.decode('utf-8'), filename='b')\n",
    "import json\n\n\ndef f(request):\n    ingest.delay(json.dumps(request.data), 'api')\n",
    "from flask import request\n\n\ndef f():\n    ingest.delay(request.get_data(), 'body')\n",
])
def test_references_are_never_reported(tmp_path, code):
    header = "from proj.models import Account\nfrom proj.tasks import ingest\n\n\n"
    assert check(tmp_path, header + code, **{"proj/models.py": "class Account:\n    pass\n"}) == []


def test_incident_example_and_its_fixed_twin(tmp_path):
    for name, expected in (("incident", [("uploads/views.py", 9, 24)]), ("fixed", [])):
        root = EXAMPLES / name
        project = analyse(["."], cwd=root, root=root, use_cache=False).project
        found = [(f.span.path, f.span.line, f.span.column) for f in LargePayloadArgument().check(project)]
        assert found == expected, name
