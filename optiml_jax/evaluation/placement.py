"""Where evaluation puts a model: its mesh and dtype (the evaluator's and the training hook's default).

Greedy decoding runs the whole model once per new token (256 of them per batch). With the
weights sharded FSDP-style every one of those steps would all-gather every layer, so evaluation
keeps the weights resident instead: each replica holds the whole model, split over `tensor`
(Megatron: heads, MLP width and vocabulary) only as far as it must be to fit a device, and the
remaining devices are data-parallel replicas (`data`). The rule, for a 40 GiB device (the
A100-40GB the paper trained on):

- **dtype**: float32 when the float32 weights take at most a third of the device (OPT up to
  2.7B), else bfloat16;
- **mesh**: `data` = every other device, `fsdp` = 1, `tensor` = the smallest power of two that
  divides the heads and the vocabulary with weights / tensor at most a third of the device
  (else the largest such power of two).

So: float32 with tensor 1 up to 2.7B, bfloat16 with tensor 1 for 6.7B, 2 for 13B, 8 for 30B
(7.0 GiB of weights per device) and 32 for 175B (10.2 GiB); on fewer devices than that, tensor is
every device (it must divide their number). A third, because the KV cache of a
full batch (32 rows of 2048 positions) is about 1.5x the bfloat16 weights for 30B and 0.9x for
175B: weights and cache then take under half a 40 GiB device even when one replica holds the
whole batch, and the rest is left to activations and XLA's buffers. `python -m optiml_jax.plan
--gin_file=... --inference` estimates a placement's memory (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from optiml_jax.models.configs import OPTConfig
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import param_shardings

REFERENCE_DEVICE_MEMORY = 40 * 2**30  # bytes: A100-40GB, the paper's accelerator
WEIGHTS_SHARE_OF_DEVICE = 1 / 3
TENSOR_DEGREES = (1, 2, 4, 8, 16, 32)


@dataclasses.dataclass(frozen=True)
class Placement:
    """A mesh shape (one axis may be -1 = the devices left) and the params' and compute dtype."""

    mesh_shape: Mapping[str, int]
    dtype: str


def evaluation_placement(config: OPTConfig, dtype: str | None = None,
                         mesh_shape: Mapping[str, int] | None = None,
                         num_devices: int | None = None) -> Placement:
    """`dtype` and `mesh_shape` where given; the model's default (the module docstring's rule) for
    the rest. The tensor degree is chosen for the dtype evaluated in and, given `num_devices`,
    capped to a degree that divides them (a 4-chip TPU host evaluates 30B on tensor 4 instead of refusing)."""
    budget = REFERENCE_DEVICE_MEMORY * WEIGHTS_SHARE_OF_DEVICE
    dtype = dtype or ("float32" if 4 * config.num_params() <= budget else "bfloat16")
    if mesh_shape is None:
        weights = config.num_params() * jnp.dtype(dtype).itemsize
        degrees = [t for t in TENSOR_DEGREES if config.num_heads % t == 0 and config.vocab_size % t == 0]
        tensor = next((t for t in degrees if weights / t <= budget), degrees[-1])
        if num_devices is not None:
            tensor = max(t for t in degrees if t <= tensor and num_devices % t == 0)
        mesh_shape = {"data": -1, "fsdp": 1, "tensor": tensor}
    return Placement(dict(mesh_shape), dtype)


def evaluation_model(config: OPTConfig, dtype: str) -> DecoderOnlyModel:
    """The model the evaluator runs: unscanned layers, compute in `dtype` (params cast to it on restore)."""
    return DecoderOnlyModel(OPT(config, dtype=dtype))


def place_params(params: Any, model: DecoderOnlyModel, partitioner: Partitioner) -> Any:
    """`params` (e.g. the trainer's, on the training mesh) cast to the model's compute dtype and
    moved onto the evaluation mesh's shardings (both meshes over the same devices).

    Cast first, where the params are, so the move carries the smaller dtype.
    """
    dtype = jnp.dtype(model.module.dtype)
    params = jax.tree.map(lambda x: x if x.dtype == dtype else x.astype(dtype), params)
    return jax.device_put(params, param_shardings(model, partitioner))
