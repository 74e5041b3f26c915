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
