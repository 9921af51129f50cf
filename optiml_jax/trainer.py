"""The jitted training step and the sharded train state (the device side of training).

`TrainState` holds step, params and optimizer state; its checkpoint form is t5x's
`{'target': params, 'state': {'step', 'param_states'}}`. The step accumulates gradients over
microbatches and normalises the summed loss once over the whole global batch, so OPT-IML's "mean
over all target tokens of the batch" is exact for any number of microbatches or hosts.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import flax
import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding

from optiml_jax import optimizers
from optiml_jax.models import losses
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner

Batch = Mapping[str, jax.Array]

# Metrics summed over microbatches; everything logged is derived from these.
SUMMED_METRICS = ("loss", "cross_ent_loss_sum", "z_loss_sum", "correct_sum", "weight_sum",
                  "num_tokens", "num_examples")
PARAMS_FINITE = "params_finite"  # step metric: True when every updated parameter is finite


@flax.struct.dataclass
class TrainState:
    step: jax.Array          # int32 scalar: updates applied so far
    params: Any
    opt_state: Any

    def state_dict(self) -> dict:
        """The t5x checkpoint layout."""
        return {"target": self.params,
                "state": {"step": self.step,
                          "param_states": flax.serialization.to_state_dict(self.opt_state)}}

    def replace_from_state_dict(self, state: Mapping) -> "TrainState":
        return TrainState(
            step=state["state"]["step"], params=state["target"],
            opt_state=flax.serialization.from_state_dict(self.opt_state,
                                                         state["state"]["param_states"]))


def _abstract_variables(model: DecoderOnlyModel, sequence_length: int) -> dict:
    return jax.eval_shape(lambda: model.get_initial_variables(
        jax.random.PRNGKey(0), {"decoder_input_tokens": (1, sequence_length)}))


def param_shardings(model: DecoderOnlyModel, partitioner: Partitioner) -> Any:
    """NamedShardings for the model's params, from their logical axes (nothing is allocated)."""
    return partitioner.shardings(_abstract_variables(model, sequence_length=8)["params_axes"])


def state_shardings(model: DecoderOnlyModel, optimizer: optax.GradientTransformation,
                    partitioner: Partitioner, sequence_length: int
                    ) -> tuple[TrainState, TrainState]:
    """`(abstract_state, shardings)`: shapes/dtypes and NamedShardings for every state leaf.

    Adam moments take their parameter's sharding; scalar counters are replicated.
    """
    variables = _abstract_variables(model, sequence_length)
    params = variables["params"]
    params_sharding = partitioner.shardings(variables["params_axes"])
    opt_state = jax.eval_shape(optimizer.init, params)
    replicated = partitioner.replicated()
    opt_shardings = optax.tree_map_params(optimizer, lambda _, sharding: sharding, opt_state,
                                          params_sharding,
                                          transform_non_params=lambda _: replicated)
    abstract = TrainState(step=jax.ShapeDtypeStruct((), jnp.int32), params=params,
                          opt_state=opt_state)
    shardings = TrainState(step=replicated, params=params_sharding, opt_state=opt_shardings)
    return abstract, shardings


def init_train_state(model: DecoderOnlyModel, optimizer: optax.GradientTransformation,
                     partitioner: Partitioner, shardings: TrainState, sequence_length: int,
                     rng: jax.Array, params: Any = None) -> TrainState:
    """A fresh state created directly in `shardings` (from `state_shardings`), never whole.

    With `params` (e.g. restored from a converted checkpoint) only the optimizer state is new.
    """

    def init(rng, params):
        if params is None:
            params = model.get_initial_variables(
                rng, {"decoder_input_tokens": (1, sequence_length)})["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                          opt_state=optimizer.init(params))

    with partitioner.activate():
        in_shardings = (partitioner.replicated(), None if params is None else shardings.params)
        return jax.jit(init, in_shardings=in_shardings, out_shardings=shardings)(rng, params)


def _split_microbatches(batch: Batch, num_microbatches: int) -> Batch:
    """[B, ...] -> [M, B/M, ...], microbatch i = rows i, i+M, i+2M, ….

    Strided rows keep every microbatch spread over all data-parallel devices (a contiguous split
    would put each microbatch on a fraction of them).
    """
    def split(x):
        x = x.reshape(x.shape[0] // num_microbatches, num_microbatches, *x.shape[1:])
        return jnp.swapaxes(x, 0, 1)

    return jax.tree.map(split, batch)


def make_train_step(model: DecoderOnlyModel, optimizer: optax.GradientTransformation,
                    schedule: optax.Schedule, num_microbatches: int = 1
                    ) -> Callable[[TrainState, Batch, jax.Array], tuple[TrainState, dict]]:
    """`step(state, batch, dropout_rng) -> (state, metrics)`; jit it with the partitioner."""

    def step(state: TrainState, batch: Batch, dropout_rng: jax.Array):
        # The divisor comes from the whole global batch, then each microbatch's loss is divided
        # by it, so the sum over microbatches is exactly the global-batch loss.
        normalizer, _ = losses.normalizer_and_weights(model.loss_normalizing_factor, batch)
        step_rng = jax.random.fold_in(dropout_rng, state.step)

        def microbatch_grads(index, microbatch):
            rng = jax.random.fold_in(step_rng, index)
            grad_fn = jax.value_and_grad(
                lambda p: model.loss_fn(p, microbatch, rng, loss_normalizer=normalizer),
                has_aux=True)
            (_, metrics), grads = grad_fn(state.params)
            return grads, {k: metrics[k] for k in SUMMED_METRICS}

        if num_microbatches == 1:
            grads, sums = microbatch_grads(0, batch)
        else:
            microbatches = _split_microbatches(batch, num_microbatches)

            def accumulate(carry, xs):
                index, microbatch = xs
                grads, sums = microbatch_grads(index, microbatch)
                return jax.tree.map(jnp.add, carry, (grads, sums)), None

            zeros = (jax.tree.map(jnp.zeros_like, state.params),
                     {k: jnp.zeros((), jnp.float32) for k in SUMMED_METRICS})
            (grads, sums), _ = jax.lax.scan(
                accumulate, zeros, (jnp.arange(num_microbatches), microbatches))

        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        # Skipped updates do not advance the optimizer's schedule count.
        skipped_before = optimizers.skipped_updates(state.opt_state)
        schedule_count = state.step - (0 if skipped_before is None
                                       else skipped_before.total_notfinite)
        metrics = {
            "loss": sums["loss"],
            "cross_ent_loss": sums["cross_ent_loss_sum"] / jnp.maximum(sums["weight_sum"], 1.0),
            "z_loss": sums["z_loss_sum"] / jnp.maximum(sums["weight_sum"], 1.0),
            "accuracy": sums["correct_sum"] / jnp.maximum(sums["weight_sum"], 1.0),
            "grad_norm": optax.tree.norm(grads),
            "learning_rate": schedule(schedule_count),
            "target_tokens": sums["weight_sum"],
            "num_examples": sums["num_examples"],
            # Read by the loop, not logged: a state with non-finite parameters is never saved.
            PARAMS_FINITE: jnp.all(jnp.asarray([jnp.all(jnp.isfinite(leaf))
                                                for leaf in jax.tree.leaves(params)])),
        }
        skipped = optimizers.skipped_updates(opt_state)
        if skipped is not None:
            metrics["skipped_updates"] = skipped.total_notfinite
            metrics["consecutive_skipped_updates"] = skipped.notfinite_count
        return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics

    return step


def per_device_bytes(tree: Any, shardings: Any) -> int:
    """Bytes one device holds of `tree` (arrays or shape structs) under `shardings`."""
    return sum(math.prod(sharding.shard_shape(leaf.shape)) * jnp.dtype(leaf.dtype).itemsize
               for leaf, sharding in zip(jax.tree.leaves(tree), jax.tree.leaves(shardings)))


def jit_train_step(step_fn: Callable, partitioner: Partitioner, shardings: TrainState) -> Callable:
    """Compile `step_fn` with explicit in/out shardings; the state buffer is donated."""
    replicated: NamedSharding = partitioner.replicated()
    # One batch sharding is a prefix of the batch dict: it applies to every feature.
    return jax.jit(step_fn, in_shardings=(shardings, partitioner.batch_sharding(), replicated),
                   out_shardings=(shardings, replicated), donate_argnums=(0,))
