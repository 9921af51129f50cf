"""A forward pass with parameters sharded by their logical axes on an 8-device CPU mesh."""

import jax
import jax.numpy as jnp
import numpy as np
from flax.linen import partitioning as nn_partitioning
from jax.sharding import PartitionSpec as P

from hf_reference import random_hf_model, random_tokens
from optiml_jax import partitioning
from optiml_jax.models.configs import get_config
from optiml_jax.models.opt import OPT, scan_layer_params


def test_sharded_forward_equals_unsharded():
    assert jax.device_count() == 8, "conftest sets --xla_force_host_platform_device_count=8"
    config = get_config("tiny")
    _, params = random_hf_model(config)
    tokens = jnp.asarray(random_tokens(np.random.RandomState(0), (4, 32), config.vocab_size))
    mesh = partitioning.make_mesh(data=2, fsdp=2, tensor=2)
    rules = partitioning.default_logical_axis_rules()

    for scan_layers in (False, True):
        module = OPT(config, scan_layers=scan_layers)
        p = scan_layer_params(params, config.num_layers) if scan_layers else params
        reference = module.apply({"params": p}, tokens, tokens, enable_dropout=False)

        axes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), tokens, tokens,
                                                  enable_dropout=False))["params_axes"]
        shardings = partitioning.logical_to_shardings(axes, mesh, rules)
        sharded_params = jax.device_put(p, shardings)
        fc1 = sharded_params["layers"]["fc1"]["kernel"] if scan_layers else \
            sharded_params["layers_0"]["fc1"]["kernel"]
        assert fc1.sharding.spec == (P(None, "fsdp", "tensor") if scan_layers else P("fsdp", "tensor"))
        assert len(fc1.addressable_shards) == 8 and fc1.addressable_shards[0].data.shape[-1] == 128

        batch_sharding = jax.sharding.NamedSharding(mesh, P(("data", "fsdp"), None))
        forward = jax.jit(
            lambda p, t: module.apply({"params": p}, t, t, enable_dropout=False),
            in_shardings=(shardings, batch_sharding))
        with jax.set_mesh(mesh), nn_partitioning.axis_rules(rules):
            logits = forward(sharded_params, jax.device_put(tokens, batch_sharding))
        # The logits constraint ('batch', 'length', 'vocab') is honoured inside the jit.
        assert logits.sharding.spec == P(("data", "fsdp"), None, "tensor")
        diff = float(jnp.max(jnp.abs(logits - reference)))
        print(f"scan_layers={scan_layers}: max |sharded - unsharded| = {diff:.3e}")
        assert diff <= 1e-5


def test_mesh_size_must_match_devices():
    try:
        partitioning.make_mesh(data=3, fsdp=1, tensor=2)
    except ValueError as error:
        assert "6 devices, but 8 are available" in str(error)
    else:
        raise AssertionError("a 6-device mesh on 8 devices must be refused")


def test_unknown_mesh_axis_is_named():
    try:
        partitioning.Partitioner({"model": 2, "fsdp": -1})
    except ValueError as error:
        assert "Unknown mesh axes ['model']" in str(error)
    else:
        raise AssertionError("an unknown mesh axis must be refused")
