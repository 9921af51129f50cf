"""Evaluation's default placement keeps the weights resident: float32 data parallelism for small
models, bfloat16 with just enough tensor parallelism for the weights to take at most a third of
a 40 GiB device for big ones, capped to the devices there are; arguments given win."""

import pytest

from optiml_jax.evaluation.placement import REFERENCE_DEVICE_MEMORY, evaluation_placement
from optiml_jax.models.configs import get_config


@pytest.mark.parametrize("name, dtype, tensor", [
    ("tiny", "float32", 1), ("opt-125m", "float32", 1), ("opt-1.3b", "float32", 1),
    ("opt-2.7b", "float32", 1), ("opt-6.7b", "bfloat16", 1), ("opt-13b", "bfloat16", 2),
    ("opt-30b", "bfloat16", 8), ("opt-175b", "bfloat16", 32),
])
def test_the_default_placement_of_each_size(name, dtype, tensor):
    config = get_config(name)
    placement = evaluation_placement(config)
    assert placement.mesh_shape == {"data": -1, "fsdp": 1, "tensor": tensor} and placement.dtype == dtype
    itemsize = {"float32": 4, "bfloat16": 2}[dtype]
    budget = REFERENCE_DEVICE_MEMORY / 3
    assert config.num_params() * itemsize / tensor <= budget  # The weights take at most a third...
    if tensor > 1:  # ...and no smaller degree would do.
        assert config.num_params() * itemsize / (tensor // 2) > budget
    assert config.num_heads % tensor == 0 and config.vocab_size % tensor == 0


def test_tensor_parallelism_is_capped_to_the_devices_there_are():
    config = get_config("opt-30b")
    assert evaluation_placement(config, num_devices=4).mesh_shape["tensor"] == 4  # A 4-chip TPU host.
    assert evaluation_placement(config, num_devices=64).mesh_shape["tensor"] == 8
    assert evaluation_placement(config, num_devices=6).mesh_shape["tensor"] == 2  # What 6 devices divide.


def test_a_given_mesh_and_dtype_win():
    config = get_config("opt-30b")
    placement = evaluation_placement(config, "float32", {"data": 1, "fsdp": -1, "tensor": 2}, num_devices=8)
    assert placement.mesh_shape == {"data": 1, "fsdp": -1, "tensor": 2} and placement.dtype == "float32"
    # A dtype alone: the tensor degree is chosen for it (float32 30B: 14 GiB per device on tensor 8,
    # the most that divides its 56 heads).
    assert evaluation_placement(config, "float32").mesh_shape["tensor"] == 8
    assert evaluation_placement(get_config("opt-1.3b"), "bfloat16").mesh_shape["tensor"] == 1
