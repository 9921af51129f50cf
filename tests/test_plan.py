"""`python -m optiml_jax.plan` compiles the real train step, or with `--inference` the evaluator's
generation step, for a fake mesh and sizes it."""

import json
import subprocess
import sys

import jax
import pytest
from flax.linen import partitioning as nn_partitioning

from eval_fixtures import tiny_model
from optiml_jax.models.configs import get_config
from train_runs import REPO


def plan(gin_file, mesh, memory="40GiB", *bindings):
    argv = [sys.executable, "-m", "optiml_jax.plan", f"--gin_file={gin_file}", f"--mesh={mesh}",
            f"--device_memory={memory}", *(f"--gin.{b}" for b in bindings)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    return done.stdout


def total_gib(output):
    line = next(line for line in output.splitlines() if line.strip().startswith("total"))
    return float(line.split("GiB")[0].split()[-1])


def test_tiny_plan_fits():
    out = plan("gin/native/opt_iml_tiny.gin", "data:2,fsdp:2,tensor:2", "1GiB")
    assert "mesh data 2 x fsdp 2 x tensor 2 (8 devices)" in out and "fits in 1 GiB" in out


@pytest.mark.slow
@pytest.mark.parametrize("gin_file, mesh", [
    ("gin/native/opt_iml_30b.gin", "data:1,fsdp:32,tensor:2"),    # paper: 64 x A100-40GB, TP 2
    ("gin/native/opt_iml_175b.gin", "data:1,fsdp:16,tensor:8"),   # paper: 128 x A100-40GB, TP 8
])
def test_paper_runs_fit_in_40_gib(gin_file, mesh):
    out = plan(gin_file, mesh)
    assert total_gib(out) <= 40.0 and "fits in 40 GiB" in out


def test_bad_mesh_argument():
    argv = [sys.executable, "-m", "optiml_jax.plan", "--gin_file=gin/native/opt_iml_tiny.gin",
            "--mesh=data:2,model:4", "--device_memory=1GiB"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "expected axis:size pairs over data, fsdp, tensor" in done.stderr


def inference_plan(gin_file, *flags, memory="1GiB"):
    """`(printed plan, returned sizes in bytes)` of `plan --inference`, run in its own process."""
    argv = [f"--gin_file={gin_file}", "--inference", f"--device_memory={memory}", *flags]
    code = f"import json; from optiml_jax.plan import main; print('SIZES ' + json.dumps(main({argv!r})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed, sizes = done.stdout.split("SIZES ")
    print(printed)
    return printed, json.loads(sizes)


def kv_cache_bytes(config, rows, positions, itemsize, shards):
    """Keys and values of every layer: layers x 2 x rows x positions x hidden x bytes, split `shards` ways."""
    return config.num_layers * 2 * rows * positions * config.hidden_size * itemsize // shards


def tensor_sharded_bytes(itemsize, tensor):
    """Tiny's params per device when `tensor` splits the heads, MLP and vocabulary and nothing else is split."""
    variables = jax.eval_shape(lambda: tiny_model().get_initial_variables(
        jax.random.PRNGKey(0), {"decoder_input_tokens": (1, 8)}))
    names = nn_partitioning.get_axis_names(variables["params_axes"])
    return sum(leaf.size * itemsize // (tensor if {"heads", "mlp", "vocab"} & set(axes) else 1)
               for leaf, axes in zip(jax.tree.leaves(variables["params"]),
                                     jax.tree.leaves(names, is_leaf=lambda x: isinstance(x, tuple))))


def test_tiny_inference_plan_sizes_params_and_kv_cache_per_device():
    # BOS + 63 prompt tokens + 256 new ones = 320 positions, a length bucket.
    printed, sizes = inference_plan("gin/native/opt_iml_tiny.gin", "--mesh=data:2,fsdp:1,tensor:2",
                                    "--batch_size=8", "--prompt_length=63")
    assert "mesh data 2 x fsdp 1 x tensor 2 (4 devices), batch 8 x 320 positions" in printed
    assert "an estimate from the CPU compiler" in printed and "fits in 1 GiB" in printed
    config = get_config("tiny")
    assert sizes["KV cache"] == kv_cache_bytes(config, rows=8, positions=320, itemsize=4, shards=2 * 2)
    assert sizes["parameters"] == tensor_sharded_bytes(itemsize=4, tensor=2) < 4 * config.num_params()
    batch_bytes = 2 * (8 // 2) * 320 * 4  # Two int32 features, rows split over data.
    assert sizes["XLA: arguments"] == sizes["parameters"] + batch_bytes
    assert sizes["total_bytes"] == sum(sizes[f"XLA: {part}"] for part in (
        "arguments", "temporaries", "outputs not aliased to inputs", "generated code"))


def test_inference_plan_defaults_to_the_evaluators_placement_with_one_replica():
    printed, sizes = inference_plan("gin/native/opt_iml_tiny.gin", "--batch_size=4", "--prompt_length=63")
    # tiny: float32, weights replicated (tensor 1); one replica = one device.
    assert "mesh data 1 x fsdp 1 x tensor 1 (1 device), batch 4 x 320 positions" in printed
    assert "dtype float32" in printed
    config = get_config("tiny")
    assert sizes["parameters"] == 4 * config.num_params()
    assert sizes["KV cache"] == kv_cache_bytes(config, rows=4, positions=320, itemsize=4, shards=1)


@pytest.mark.slow  # Compiles OPT-30B's generation step for 8 fake devices (about 20 s).
def test_30b_inference_plan_keeps_bfloat16_weights_resident_on_tensor_8():
    printed, sizes = inference_plan("gin/native/opt_iml_30b.gin", memory="40GiB")
    assert "mesh data 1 x fsdp 1 x tensor 8 (8 devices), batch 32 x 2048 positions" in printed
    assert "dtype bfloat16" in printed
    config = get_config("opt-30b")
    # All but the position table, LayerNorms and a few biases are split 8 ways.
    assert 2 * config.num_params() / 8 < sizes["parameters"] < 1.01 * 2 * config.num_params() / 8
    assert sizes["KV cache"] == kv_cache_bytes(config, rows=32, positions=2048, itemsize=2, shards=8)


def test_inference_flags_need_inference():
    argv = [sys.executable, "-m", "optiml_jax.plan", "--gin_file=gin/native/opt_iml_tiny.gin",
            "--mesh=data:2", "--device_memory=1GiB", "--dtype=bfloat16"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "go with --inference" in done.stderr
