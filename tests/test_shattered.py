"""The 1-D gradient probe (chapter 7): exact derivatives, the homogeneity fact, autocorrelation."""

import numpy as np
import pytest

from resnet_lessons import shattered


@pytest.mark.parametrize("kind", shattered.KINDS)
def test_probe_shapes_and_grid(kind):
    probe = shattered.gradient_probe(kind, depth=5, width=16, seed=1)
    assert probe.inputs.shape == (256,) and probe.inputs[0] == -2 and probe.inputs[-1] == 2
    assert probe.outputs.shape == probe.gradients.shape == (5, 256)
    assert probe.depth == 5
    np.testing.assert_array_equal(probe.gradient(5), probe.gradients[4])


@pytest.mark.parametrize("kind", shattered.KINDS)
@pytest.mark.parametrize("batch_norm", [True, False])
def test_gradient_equals_finite_differences_at_fixed_statistics(kind, batch_norm):
    grid = shattered.input_grid()
    probe = shattered.gradient_probe(kind, depth=12, width=32, seed=3, batch_norm=batch_norm)
    points, step = grid[90:110], 1e-6
    nearby = shattered.gradient_probe(kind, depth=12, width=32, seed=3, batch_norm=batch_norm, batch=grid,
                                      inputs=np.concatenate([points - step, points + step]))
    differences = (nearby.outputs[:, 20:] - nearby.outputs[:, :20]) / (2 * step)
    np.testing.assert_allclose(differences, probe.gradients[:, 90:110], atol=1e-5 * np.abs(probe.gradients).max())


def test_batch_equal_to_the_inputs_changes_nothing():
    grid = shattered.input_grid(64)
    first = shattered.gradient_probe("plain", depth=4, width=8, inputs=grid)
    second = shattered.gradient_probe("plain", depth=4, width=8, inputs=grid, batch=grid)
    np.testing.assert_array_equal(first.gradients, second.gradients)


@pytest.mark.parametrize("kind", shattered.KINDS)
def test_without_batch_norm_the_net_is_positively_homogeneous(kind):
    grid = shattered.input_grid()
    probe = shattered.gradient_probe(kind, depth=20, width=32, batch_norm=False, seed=0)
    scaled = shattered.gradient_probe(kind, depth=20, width=32, batch_norm=False, seed=0, inputs=3 * grid)
    np.testing.assert_allclose(scaled.outputs, 3 * probe.outputs, rtol=1e-10, atol=1e-12)
    # dy/dx is constant on each side of 0: one kink, at every depth.
    for gradient in probe.gradients:
        for side in (grid > 0, grid < 0):
            np.testing.assert_allclose(gradient[side], gradient[side][0], rtol=1e-9, atol=1e-12)


def test_with_batch_norm_a_deep_plain_gradient_has_many_pieces_and_little_correlation():
    probe = shattered.gradient_probe("plain", depth=30, width=64, seed=0)
    assert len(np.unique(np.round(probe.gradient(30), 8))) > 100
    residual = shattered.gradient_probe("residual", depth=30, width=64, seed=0)
    assert shattered.autocorrelation(residual.gradient(30)) > shattered.autocorrelation(probe.gradient(30))


def test_autocorrelation_of_known_sequences():
    ramp = np.linspace(0, 1, 200)
    assert shattered.autocorrelation(ramp) == pytest.approx(1, abs=0.02)
    noise = np.random.default_rng(0).normal(size=20_000)
    assert abs(shattered.autocorrelation(noise)) < 0.03
    alternating = np.tile([1.0, -1.0], 50)
    assert shattered.autocorrelation(alternating) == pytest.approx(-0.99)
    assert np.isnan(shattered.autocorrelation(np.ones(10)))
    rows = shattered.autocorrelation(np.stack([ramp, -ramp]), lag=2)
    assert rows.shape == (2,) and rows[0] == pytest.approx(rows[1])


def test_autocorrelation_by_depth_shape():
    values = shattered.autocorrelation_by_depth("residual", depth=3, seeds=[0, 1], width=8)
    assert values.shape == (2, 3)
    np.testing.assert_allclose(values[1], shattered.autocorrelation(
        shattered.gradient_probe("residual", depth=3, width=8, seed=1).gradients))


def test_bad_input_raises_value_errors():
    with pytest.raises(ValueError, match="kind must be one of"):
        shattered.gradient_probe("dense", depth=2)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        shattered.gradient_probe("plain", depth=0)
    with pytest.raises(ValueError, match="inputs must be a 1-D"):
        shattered.gradient_probe("plain", depth=2, inputs=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="batch must be a 1-D"):
        shattered.gradient_probe("plain", depth=2, batch=[1.0])
    with pytest.raises(ValueError, match="depth must be an integer from 1 to 2"):
        shattered.gradient_probe("plain", depth=2, width=4).gradient(3)
    with pytest.raises(ValueError, match="lag"):
        shattered.autocorrelation(np.arange(5.0), lag=5)
    with pytest.raises(ValueError, match="points must be an integer"):
        shattered.input_grid(1)
    with pytest.raises(ValueError, match="seeds"):
        shattered.autocorrelation_by_depth("plain", depth=2, seeds=[])
