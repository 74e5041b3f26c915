"""QL204 serializer-not-accepted: compared with what kombu 5.7 accepts and refuses."""
from __future__ import annotations

import pickle

import pytest
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps, loads, prepare_accept_content, register, registry

from qlint.rules.serializer_not_accepted import SerializerNotAccepted
from tests.rules.test_ql001 import celery_conf, django, findings, load_module

SERIALIZERS = """
import pickle

from kombu.serialization import register

register("ql-test-signed", pickle.dumps, pickle.loads, content_type="application/x-ql-test-signed")
"""


def _round_trip(conf, serializer: str) -> object:
    content_type, encoding, body = dumps({"x": 1}, serializer=serializer)
    return loads(body, content_type, encoding, accept=prepare_accept_content(conf.accept_content))


@pytest.fixture
def signed():
    register("ql-test-signed", pickle.dumps, pickle.loads, content_type="application/x-ql-test-signed")
    yield
    registry.unregister("ql-test-signed")


def test_a_serializer_the_project_registers_is_accepted_by_its_content_type(tmp_path, signed):
    settings = ("CELERY_TASK_SERIALIZER = 'ql-test-signed'\nCELERY_RESULT_SERIALIZER = 'ql-test-signed'\n"
                "CELERY_ACCEPT_CONTENT = ['application/json', 'application/x-ql-test-signed']\n")
    files = {**django(settings), "site/serializers.py": SERIALIZERS}
    assert findings(tmp_path, SerializerNotAccepted(), files) == []
    assert _round_trip(celery_conf(load_module(tmp_path / "site/settings.py")), "ql-test-signed") == {"x": 1}


def test_a_shipped_serializer_missing_from_the_list_is_refused(tmp_path, signed):
    settings = "CELERY_TASK_SERIALIZER = 'json'\nCELERY_ACCEPT_CONTENT = ['ql-test-signed']\n"
    found = findings(tmp_path, SerializerNotAccepted(), django(settings))
    assert [m.message.split(",")[0] for m in found] == [  # results are json too, by default
        "task_serializer is 'json'", "result_serializer is 'json'"]
    with pytest.raises(ContentDisallowed):
        _round_trip(celery_conf(load_module(tmp_path / "site/settings.py")), "json")
