"""The OPT-IML optimizer: AdamW (fp32 state), linear warmup then linear decay to 0, clip 1.0.

Paper recipe (§3.3 and the released run names): Adam β = (0.9, 0.95), 32-bit state, peak LR 5e-5,
60 warmup steps, linear decay to 0 at the last step, gradient-norm clipping 1.0. Weight decay and
ε are not stated; we default to OPT's pre-training values (0.1, 1e-8) and make both settable.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax


def warmup_linear_decay(peak_learning_rate: float, warmup_steps: int,
                        total_steps: int) -> optax.Schedule:
    """LR for update `count` (0-based): ramps to the peak over `warmup_steps` updates, then
    decays linearly to exactly 0 after update `total_steps - 1`.

    The first update already uses `peak / warmup_steps` (metaseq's warmup sets the LR for the
    coming update), so no step is spent at LR 0.
    """
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps={total_steps} must exceed warmup_steps={warmup_steps}.")

    def schedule(count):
        count = jnp.asarray(count, jnp.float32)
        warm = (count + 1.0) / max(warmup_steps, 1)
        decay = (total_steps - count) / (total_steps - warmup_steps)
        return peak_learning_rate * jnp.clip(jnp.minimum(warm, decay), 0.0, 1.0)

    return schedule


def create_optimizer(total_steps: int, learning_rate: float = 5e-5, warmup_steps: int = 60,
                     b1: float = 0.9, b2: float = 0.95, eps: float = 1e-8,
                     weight_decay: float = 0.1, clip_norm: float | None = 1.0
                     ) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """`(optimizer, schedule)`: clip by global norm, then AdamW driven by the schedule.

    Adam moments take the parameters' dtype, float32 here (parameters are always float32).
    """
    schedule = warmup_linear_decay(learning_rate, warmup_steps, total_steps)
    adamw = optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    chain = [optax.clip_by_global_norm(clip_norm)] if clip_norm else []
    return optax.chain(*chain, adamw), schedule
