"""The OPT-IML learning-rate schedule and the optimizer that applies it."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optiml_jax import optimizers

PEAK, WARMUP, TOTAL = 5e-5, 60, 4000  # the paper's LR and warm-up, the 1.3B/30B run length


def test_warmup_reaches_the_peak_at_step_59_and_decays_to_zero_at_the_last_step():
    """Update `count` (0-based) uses schedule(count): 60 warm-up updates, linear decay to 0."""
    schedule = optimizers.warmup_linear_decay(PEAK, WARMUP, TOTAL)
    lr = {count: float(schedule(count)) for count in (0, 59, 60, TOTAL - 1, TOTAL)}
    assert lr[0] == pytest.approx(PEAK / WARMUP, rel=1e-6)  # no update is spent at LR 0
    assert lr[59] == pytest.approx(PEAK, rel=1e-6)  # the 60th update: warm-up complete
    assert lr[60] == pytest.approx(PEAK, rel=1e-6)  # decay starts from the peak
    assert lr[TOTAL - 1] == pytest.approx(PEAK / (TOTAL - WARMUP), rel=1e-5)  # the last update
    assert lr[TOTAL] == 0.0
    # Linear in between: halfway through the decay, half the peak.
    assert float(schedule((TOTAL + WARMUP) // 2)) == pytest.approx(PEAK / 2, rel=1e-4)


def test_adamw_takes_the_scheduled_step_size():
    """Adam's first update is lr * g / (|g| + eps), i.e. lr in magnitude: the schedule's LR."""
    optimizer, _ = optimizers.create_optimizer(total_steps=TOTAL, weight_decay=0.0)
    params = {"w": jnp.zeros(4)}
    gradients = {"w": jnp.asarray([1e-3, -2e-3, 3e-3, -4e-3])}  # under the clip norm of 1.0
    updates, _ = optimizer.update(gradients, optimizer.init(params), params)
    np.testing.assert_allclose(np.abs(updates["w"]), PEAK / WARMUP, rtol=1e-4)


def test_skipping_optimizer_keeps_parameters_and_state_on_a_non_finite_gradient():
    optimizer, _ = optimizers.create_optimizer(total_steps=TOTAL, max_skipped_updates=3)
    params = {"w": jnp.ones(4)}
    state = optimizer.init(params)
    updates, skipped = optimizer.update({"w": jnp.full(4, jnp.nan)}, state, params)
    np.testing.assert_array_equal(optax.apply_updates(params, updates)["w"], params["w"])
    counters = optimizers.skipped_updates(skipped)
    assert int(counters.total_notfinite) == 1 and int(counters.notfinite_count) == 1
    assert optimizers.skipped_updates(optimizers.create_optimizer(TOTAL)[0].init(params)) is None
