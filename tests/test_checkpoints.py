"""t5x-layout checkpoints: both writers give the same checkpoint, plain Orbax (as t5x calls it)
restores it, and `restore_params` casts, shards and converts between scanned/unscanned layouts."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import traverse_util
from jax.sharding import NamedSharding, PartitionSpec

from optiml_jax import checkpoints
from optiml_jax.models.configs import OPTConfig
from optiml_jax.models.opt import OPT, scan_layer_params, unscan_layer_params
from optiml_jax.partitioning import logical_to_shardings, make_mesh

CONFIG = OPTConfig(vocab_size=128, hidden_size=32, num_layers=3, num_heads=4, ffn_dim=64,
                   max_position_embeddings=32)


def random_params(config=CONFIG, scan_layers=False, seed=0):
    tokens = jnp.ones((1, 4), jnp.int32)
    variables = OPT(config, scan_layers=scan_layers).init(jax.random.PRNGKey(seed), tokens, tokens,
                                                          enable_dropout=False)
    return jax.tree.map(np.asarray, variables["params"]), variables["params_axes"]


def assert_trees_equal(a, b):
    flat_a, flat_b = traverse_util.flatten_dict(a), traverse_util.flatten_dict(b)
    assert flat_a.keys() == flat_b.keys()
    for path in flat_a:
        assert np.asarray(flat_a[path]).dtype == np.asarray(flat_b[path]).dtype, path
        np.testing.assert_array_equal(np.asarray(flat_a[path]), np.asarray(flat_b[path]), path)


def write_streaming(model_dir, params, batch_bytes):
    with checkpoints.StreamingParamsWriter(model_dir, batch_bytes=batch_bytes) as writer:
        for path, value in traverse_util.flatten_dict(params).items():
            writer.add(path, value)
        return writer.close()


def test_streaming_writer_equals_checkpoint_manager(tmp_path):
    params, _ = random_params()
    managed = checkpoints.save_params(tmp_path / "managed", params)
    # A small batch forces one partial save per few leaves: many pieces, one checkpoint.
    streamed = write_streaming(tmp_path / "streamed", params, batch_bytes=32 * 1024)
    assert streamed == tmp_path / "streamed" / "checkpoint_0"
    assert sorted(p.name for p in (tmp_path / "streamed").iterdir()) == ["checkpoint_0"]

    handler = ocp.PyTreeCheckpointHandler(use_ocdbt=True)
    trees = [handler.metadata(d / "state").tree for d in (managed, streamed)]
    assert jax.tree.map(lambda m: (m.shape, m.dtype), trees[0]) == \
        jax.tree.map(lambda m: (m.shape, m.dtype), trees[1])
    step_metadata = [json.loads((d / "_CHECKPOINT_METADATA").read_text())
                     for d in (managed, streamed)]
    assert step_metadata[0]["item_handlers"] == step_metadata[1]["item_handlers"]

    # A bare manager resolves the handler from metadata and restores the whole state.
    for directory in (managed.parent, streamed.parent):
        restored = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(
            step_prefix="checkpoint")).restore(0)["state"]
        assert int(restored["state"]["step"]) == 0
        assert_trees_equal(restored["target"], params)


def test_restores_the_way_t5x_calls_orbax(tmp_path):
    """The Orbax calls of t5x HEAD's `OrbaxCheckpointManagerInterface.restore`: structure from
    `_get_internal_metadata`, then a manager restore with `ArrayRestoreArgs(mesh, mesh_axes, dtype)`
    for `target` and plain `RestoreArgs` for `state`."""
    params, axes = random_params()
    write_streaming(tmp_path, params, batch_bytes=4096)
    state_dir = tmp_path / "checkpoint_0" / "state"
    handler = ocp.PyTreeCheckpointHandler(use_ocdbt=True)
    structure, _ = handler._get_internal_metadata(state_dir)
    assert isinstance(structure["target"]["embed_tokens"]["embedding"],
                      ocp.metadata.tree.ValueMetadataEntry)
    assert ocp.type_handlers.is_ocdbt_checkpoint(state_dir)

    mesh = make_mesh(data=2, fsdp=2, tensor=2)
    mesh_axes = jax.tree.map(lambda s: s.spec, logical_to_shardings(axes, mesh),
                             is_leaf=lambda s: isinstance(s, NamedSharding))
    restore_args = {
        "target": jax.tree.map(lambda spec: ocp.ArrayRestoreArgs(mesh=mesh, mesh_axes=spec,
                                                                 dtype=jnp.bfloat16),
                               mesh_axes, is_leaf=lambda s: isinstance(s, PartitionSpec)),
        "state": {"step": ocp.RestoreArgs()},
    }
    item = {"target": jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, jnp.bfloat16), params),
            "state": {"step": 0}}
    manager = ocp.CheckpointManager(tmp_path, options=ocp.CheckpointManagerOptions(
        step_prefix="checkpoint"), item_handlers={"state": handler})
    restored = manager.restore(0, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
        item, restore_args=restore_args)))["state"]
    kernel = restored["target"]["layers_0"]["fc1"]["kernel"]
    assert kernel.dtype == jnp.bfloat16
    assert kernel.sharding.spec == mesh_axes["layers_0"]["fc1"]["kernel"]
    np.testing.assert_array_equal(np.asarray(kernel),
                                  params["layers_0"]["fc1"]["kernel"].astype(jnp.bfloat16))


@pytest.mark.parametrize("stored_scanned", [False, True])
def test_restore_converts_layouts(tmp_path, stored_scanned):
    params, _ = random_params()
    scanned = scan_layer_params(params, CONFIG.num_layers)
    checkpoints.save_params(tmp_path, scanned if stored_scanned else params)
    as_scanned = checkpoints.restore_params(tmp_path, scan_layers=True)
    as_unscanned = checkpoints.restore_params(tmp_path, scan_layers=False)
    assert_trees_equal(jax.tree.map(np.asarray, as_scanned), jax.tree.map(np.asarray, scanned))
    assert_trees_equal(as_unscanned, params)
    assert_trees_equal(checkpoints.restore_params(tmp_path),
                       jax.tree.map(np.asarray, scanned) if stored_scanned else params)


@pytest.mark.parametrize("stored_scanned, want_scanned",
                         [(False, True), (True, False), (False, False)])
def test_restore_onto_shardings(tmp_path, stored_scanned, want_scanned):
    """An unscanned (converted) checkpoint serves a sharded scan_layers=True model, and back."""
    params, _ = random_params()
    checkpoints.save_params(tmp_path, scan_layer_params(params, CONFIG.num_layers)
                            if stored_scanned else params)
    _, axes = random_params(scan_layers=want_scanned)
    mesh = make_mesh(data=2, fsdp=2, tensor=2)
    shardings = logical_to_shardings(axes, mesh)
    restored = checkpoints.restore_params(tmp_path, shardings=shardings, dtype=jnp.bfloat16,
                                          scan_layers=want_scanned)
    leaves = traverse_util.flatten_dict(restored)
    for path, sharding in traverse_util.flatten_dict(shardings).items():
        assert leaves[path].sharding.is_equivalent_to(sharding, leaves[path].ndim), path
        assert leaves[path].dtype == jnp.bfloat16
    as_unscanned = unscan_layer_params(restored) if want_scanned else restored
    assert_trees_equal(jax.tree.map(np.asarray, as_unscanned),
                       jax.tree.map(lambda x: x.astype(jnp.bfloat16), params))


def test_restore_takes_params_out_of_a_train_state(tmp_path):
    params, _ = random_params()
    manager = checkpoints.checkpoint_manager(tmp_path)
    optimizer_state = {"mu": jax.tree.map(np.zeros_like, params), "count": np.int32(7)}
    manager.save(7, args=ocp.args.Composite(state=ocp.args.PyTreeSave(
        {"target": params, "state": {"step": 7, "param_states": optimizer_state}})))
    manager.wait_until_finished()
    assert checkpoints.resolve_step_dir(tmp_path) == tmp_path / "checkpoint_7"
    assert_trees_equal(checkpoints.restore_params(tmp_path), params)


def test_restore_rejects_a_checkpoint_of_another_model(tmp_path):
    params, _ = random_params()
    checkpoints.save_params(tmp_path, params)
    wider = CONFIG.replace(ffn_dim=128)
    with pytest.raises(ValueError, match=r"fc1/bias has shape \(64,\), the config expects "
                                         r"\(128,\)"):
        checkpoints.restore_params(tmp_path, config=wider)
    checkpoints.save_config(tmp_path, CONFIG)
    assert checkpoints.load_config(tmp_path / "checkpoint_0") == CONFIG
    with pytest.raises(ValueError, match=r"ffn_dim: checkpoint 64 vs requested 128"):
        checkpoints.restore_params(tmp_path, config=wider)
    assert_trees_equal(checkpoints.restore_params(tmp_path, config=CONFIG), params)


def test_writer_leaves_nothing_behind_on_error(tmp_path):
    params, _ = random_params()
    with pytest.raises(RuntimeError, match="interrupted"):
        with checkpoints.StreamingParamsWriter(tmp_path, batch_bytes=1) as writer:
            writer.add(("embed_tokens", "embedding"), params["embed_tokens"]["embedding"])
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_streaming(tmp_path, params, batch_bytes=2**20)
    with pytest.raises(FileExistsError, match="checkpoint_0 already exists"):
        checkpoints.StreamingParamsWriter(tmp_path)


def test_writer_refuses_a_leaf_twice(tmp_path):
    writer = checkpoints.StreamingParamsWriter(tmp_path, batch_bytes=1)
    writer.add(("a",), np.zeros(3))
    with pytest.raises(ValueError, match="written twice"):
        writer.add(("a",), np.zeros(3))
    writer.abort()
