"""reads.likely_reads: what a parsed module will make the resolver look up, on real parses."""
from __future__ import annotations

from qlint.sources.python import parse_facts


def test_module_code_reads_every_name_and_attribute_of_a_name():
    facts = parse_facts("app/tasks.py", "from app import models\nLIMIT = models.Limits.hard + offset\n")
    assert {"models", "offset"} <= facts.names_read
    assert ("models", "Limits") in facts.attributes_read


def test_a_read_function_body_contributes_its_call_roots_and_what_task_calls_are_given():
    source = (
        "from app import models, tasks\n\n\n"
        "def send(order_id):\n"
        "    order = models.Order.objects.get(id=order_id)\n"
        "    helper = unrelated.value\n"
        "    tasks.charge.delay(order, payload)\n"
    )
    facts = parse_facts("app/views.py", source)
    assert {"models", "tasks", "order", "payload"} <= facts.names_read
    assert ("models", "Order") in facts.attributes_read and ("tasks", "charge") in facts.attributes_read
    # an attribute read outside a call, in a function, is not looked up by the resolver
    assert "unrelated" not in facts.names_read
    assert all(name != "unrelated" for name, _ in facts.attributes_read)


def test_a_function_body_that_is_not_read_contributes_only_its_signature():
    source = "from app import models\n\n\ndef total(rate=defaults.RATE):\n    return models.Order.objects.count()\n"
    facts = parse_facts("app/stats.py", source)
    assert "defaults" in facts.names_read and ("defaults", "RATE") in facts.attributes_read
    assert "models" not in facts.names_read


def test_a_file_that_does_not_parse_reads_nothing():
    facts = parse_facts("app/broken.py", "def broken(:\n")
    assert facts.error is not None
    assert facts.names_read == frozenset() and facts.attributes_read == ()
