"""The pattern QL305's second pass finds the callers of sending functions with: exactly the calls
of the given names, as a flat alternation of them would find, whatever prefixes they share."""
from __future__ import annotations

import random
import re

import pytest

from qlint.sources.read import calls_pattern


@pytest.mark.parametrize(("text", "found"), [
    (b"x.get_user(1)", [b"get_user("]),
    (b"get_users(2) and get(3)", [b"get_users(", b"get("]),
    (b"get_use(1) forget(1) get (1)", []),
    (b"notify(x) notify_customer(y) notify_cust(z)", [b"notify(", b"notify_customer("]),
])
def test_calls_of_names_that_share_prefixes(text, found):
    names = frozenset({"get_user", "get_users", "get", "notify_customer", "notify"})
    assert [m.group() for m in calls_pattern(names).finditer(text)] == found


def test_the_same_matches_as_a_flat_alternation():
    rng = random.Random(7)
    letters = "ab_"
    for _ in range(500):
        names = frozenset("".join(rng.choice(letters) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 8)))
        flat = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\(")
        text = " ".join("".join(rng.choice(letters + "( .") for _ in range(8)) for _ in range(30)).encode()
        assert [(m.start(), m.group()) for m in calls_pattern(names).finditer(text)] == \
            [(m.start(), m.group()) for m in flat.finditer(text)], (names, text)


def test_no_names_match_nothing():
    assert list(calls_pattern(frozenset()).finditer(b"f(1)")) == []
