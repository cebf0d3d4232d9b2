"""Seeding makes model initialisation repeatable."""

import numpy as np
import pytest

from resnet_lessons import models, seeding


def test_same_seed_same_weights_other_seed_other_weights():
    seeding.set_seed(3)
    first = models.resnet20().get_weights()
    seeding.set_seed(3)
    second = models.resnet20().get_weights()
    seeding.set_seed(4)
    third = models.resnet20().get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], third[0])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        seeding.set_seed(seed)
