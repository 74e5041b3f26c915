"""The engine's shuffle draws what random.shuffle draws: same permutation, same state after."""
import random

import pytest

from qlint.worker.engine import shuffle


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 17, 32, 33, 50, 64, 65, 300])
def test_shuffle_is_random_shuffle(length: int) -> None:
    for seed in range(50):
        expected, got = random.Random(seed), random.Random(seed)
        a, b = list(range(length)), list(range(length))
        expected.shuffle(a)
        shuffle(got, b)
        assert a == b
        assert expected.getstate() == got.getstate()
