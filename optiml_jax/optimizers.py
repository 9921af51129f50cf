"""The OPT-IML optimizer: AdamW (fp32 state), linear warmup then linear decay to 0, clip 1.0.

Paper recipe (§3.3 and the released run names): Adam β = (0.9, 0.95), 32-bit state, peak LR 5e-5,
60 warmup steps, linear decay to 0 at the last step, gradient-norm clipping 1.0. Weight decay and
ε are not stated; we default to OPT's pre-training values (0.1, 1e-8) and make both settable.

Non-finite updates (a bf16 overflow in the backward pass gives NaN gradients with a finite loss)
stop the run by default (the trainer checks every step, before saving). With
`max_skipped_updates=N` the optimizer is wrapped in `optax.apply_if_finite`: an update with a
non-finite gradient is dropped (parameters and Adam state unchanged; the schedule does not
advance) up to N times in a row; the N+1-th is applied, and the trainer then stops on the
non-finite parameters.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import gin
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
                     weight_decay: float = 0.1, clip_norm: float | None = 1.0,
                     max_skipped_updates: int | None = None
                     ) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """`(optimizer, schedule)`: clip by global norm, then AdamW driven by the schedule.

    Adam moments take the parameters' dtype, float32 here (parameters are always float32).
    `max_skipped_updates`: None stops the run at a non-finite update; N skips up to N in a row
    (`optax.apply_if_finite`, outermost, so `skipped_updates` finds its counters).
    """
    schedule = warmup_linear_decay(learning_rate, warmup_steps, total_steps)
    adamw = optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    chain = [optax.clip_by_global_norm(clip_norm)] if clip_norm else []
    optimizer = optax.chain(*chain, adamw)
    if max_skipped_updates is not None:
        optimizer = optax.apply_if_finite(optimizer, max_consecutive_errors=max_skipped_updates)
    return optimizer, schedule


def skipped_updates(opt_state: Any) -> optax.ApplyIfFiniteState | None:
    """The skip counters of an optimizer made with `max_skipped_updates`, else None."""
    return opt_state if isinstance(opt_state, optax.ApplyIfFiniteState) else None


def resolved_arguments(optimizer_fn: Callable, **call: Any) -> dict[str, Any]:
    """Every argument `optimizer_fn(**call)` runs with: the function's defaults, then gin's
    bindings for it, then `functools.partial` keywords, then `call` (the order in which each
    overrides the last when the call is made).

    The trainer stores these in MODEL_DIR (`optiml_jax.resume`), so that a resume can name the
    setting that changed.
    """
    function, keywords = _without_partials(optimizer_fn)
    arguments = inspect.signature(function).bind(**{**_gin_bindings(function), **keywords, **call})
    arguments.apply_defaults()
    return dict(arguments.arguments)


def qualified_name(optimizer_fn: Callable) -> str:
    """`module.function` of the function `optimizer_fn` calls in the end."""
    function = inspect.unwrap(_without_partials(optimizer_fn)[0])
    return f"{function.__module__}.{function.__qualname__}"


def _without_partials(function: Callable) -> tuple[Callable, dict[str, Any]]:
    """The function inside (nested) `functools.partial`s and the keywords they bind."""
    keywords: dict[str, Any] = {}
    while isinstance(function, functools.partial):
        keywords = {**function.keywords, **keywords}
        function = function.func
    return function, keywords


def _gin_bindings(function: Callable) -> dict[str, Any]:
    """gin's bindings if `function` is gin's wrapper (what `@name` in a gin file passes), else {}:
    calling the undecorated function directly injects nothing."""
    undecorated = inspect.unwrap(function)
    try:
        is_gin_wrapper = gin.get_configurable(undecorated) is function
    except ValueError:  # not registered with gin
        return {}
    return gin.get_bindings(undecorated) if is_gin_wrapper else {}
