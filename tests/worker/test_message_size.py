"""A message's size as the replay counts it (looked up by its parts) is the length of the envelope
kombu writes to Redis, built in full."""
from __future__ import annotations

import base64
import json

import pytest

from qlint.worker.messages import Callback, Message, body_bytes, envelope, envelope_size, serialized_body
from qlint.worker.scenario import Step

MESSAGES = {
    "plain": Message("t1", "short.t", [], 0.0, "tag-t1"),
    "arguments": Message("t22", "a", [1, "é ☃", {"k": [None, True, 2.5]}, []], 3.5, "tag-t22", eta=120.0),
    "padded": Message("t3", "up", [2], 0.0, "tag-t3", padding=1000),
    "canvas": Message("c-1", "a", ["x"], 0.0, "tag-c-1-retry2", retries=2, chord="chord9",
                      callbacks=(Callback(Step(task="next"), (Callback(Step(task="last")),)),),
                      errbacks=(Step(task="err"), Step(task="err2"))),
    "odd id": Message('id "é"\\', "a", [], 0.0, 'tag-id "é"\\', redelivered=True, queue="long"),
}


@pytest.mark.parametrize("name", list(MESSAGES))
def test_size_is_the_built_envelope(name: str) -> None:
    message = MESSAGES[name]
    body = serialized_body(message)
    assert body_bytes(message) == len(body)
    assert envelope_size(message) == len(json.dumps(envelope(message, base64.b64encode(body).decode())))


@pytest.mark.parametrize("plain, escaped", [("t1x", "t1\t"), ("t1x", 't1"'), ("t1x", "t1\\"), ("t1x", "t1é")])
def test_an_escaped_id_is_not_sized_as_a_plain_one(plain: str, escaped: str) -> None:
    # Envelope lengths are kept by the JSON length of the id and tag: the plain id, sized first,
    # must not lend its entry to an id of as many characters that JSON escapes.
    for mid in (plain, escaped):
        message = Message(mid, "escapes", [], 0.0, f"tag-{mid}")
        body = base64.b64encode(serialized_body(message)).decode()
        assert envelope_size(message) == len(json.dumps(envelope(message, body)))
