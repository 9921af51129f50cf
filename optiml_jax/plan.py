"""Will a run fit? Compile the real train step (or evaluation step) for a mesh of fake devices and
read XLA's plan.

    python -m optiml_jax.plan --gin_file=gin/native/opt_iml_30b.gin \\
        --mesh=data:1,fsdp:32,tensor:2 --device_memory=40GiB [--gin.X=Y ...]
    python -m optiml_jax.plan --gin_file=gin/native/opt_iml_30b.gin --inference --device_memory=40GiB \\
        [--mesh=data:8,fsdp:1,tensor:8] [--batch_size 32] [--prompt_length N] [--dtype bfloat16]

The train step of the gin run file (model, batch, microbatches, optimizer, remat) is lowered and
compiled ahead of time for a simulated mesh of CPU devices; nothing is allocated. Per device it
prints the parameters, optimizer state and batch (from their shardings) and XLA's memory
analysis: arguments, temporaries (activations, gradients, workspace) and outputs that do not
reuse donated inputs. The CPU compiler schedules and fuses differently from TPU/GPU compilers,
so treat temporaries as an estimate and keep a margin.

With `--inference` it compiles the evaluator's generation step instead (`python -m
optiml_jax.eval`: prefill + greedy decoding of 256 new tokens, the evaluator's model and batch)
for the run file's model, by default on the evaluator's default placement for it
(`optiml_jax/evaluation/placement.py`) with one replica (`data` 1: the whole batch on one
model's devices, the most memory per device), for prompts as long as the evaluator takes (rows
of 2048 positions). It prints the parameters and the KV cache per device (from their shapes and
shardings) and XLA's analysis. The CPU compiler has no bfloat16 arithmetic: it keeps float32
copies of bfloat16 buffers (the KV cache among them), so for bfloat16 its temporaries
overestimate an accelerator's.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys

from optiml_jax.sizes import parse_bytes


def device_memory(text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError as error:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_mesh(text: str) -> dict[str, int]:
    shape = {}
    for part in text.split(","):
        axis, _, size = part.partition(":")
        if axis not in ("data", "fsdp", "tensor") or not size.isdigit():
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected axis:size pairs over data, fsdp, tensor, e.g. "
                f"data:8,fsdp:4,tensor:2.")
        shape[axis] = int(size)
    return shape


def _gib(num_bytes: float) -> str:
    return f"{num_bytes / 2**30:8.2f} GiB"


def _print_plan(header: str, rows: list[tuple[str, int]], memory, memory_per_device: int) -> dict:
    """Prints the per-device rows and XLA's verdict; returns them (bytes) with the total."""
    rows = [*rows,
            ("XLA: arguments", memory.argument_size_in_bytes),
            ("XLA: temporaries", memory.temp_size_in_bytes),
            ("XLA: outputs not aliased to inputs",
             memory.output_size_in_bytes - memory.alias_size_in_bytes),
            ("XLA: generated code", memory.generated_code_size_in_bytes)]
    total = (memory.argument_size_in_bytes + memory.temp_size_in_bytes
             + memory.output_size_in_bytes - memory.alias_size_in_bytes
             + memory.generated_code_size_in_bytes)
    print(header)
    print("per device:")
    for name, value in rows:
        print(f"  {name:38s}{_gib(value)}")
    verdict = "fits" if total <= memory_per_device else "DOES NOT FIT"
    print(f"  {'total (arguments + temporaries + outputs)':38s}{_gib(total)}   "
          f"{verdict} in {memory_per_device / 2**30:.0f} GiB "
          f"({100 * total / memory_per_device:.0f}%)")
    return {"total_bytes": total, "device_memory": memory_per_device,
            "fits": total <= memory_per_device, **dict(rows)}


def _fake_devices(count: int) -> None:
    """Fakes exactly `count` CPU devices; must happen before JAX initialises its backend."""
    os.environ["XLA_FLAGS"] = (re.sub(r"--xla_force_host_platform_device_count=\d+", "",
                                      os.environ.get("XLA_FLAGS", ""))
                               + f" --xla_force_host_platform_device_count={count}")
    os.environ["JAX_PLATFORMS"] = "cpu"


def _describe(mesh: dict[str, int]) -> str:
    return (" x ".join(f"{axis} {size}" for axis, size in mesh.items())
            + f" ({math.prod(mesh.values())} device{'' if math.prod(mesh.values()) == 1 else 's'})")


def plan_train_step(args: argparse.Namespace) -> dict:
    _fake_devices(math.prod(args.mesh.values()))
    import gin

    from optiml_jax import gin_utils
    from optiml_jax import train as train_module

    args.gin_bindings = ['MODEL_DIR = "unused-by-plan"', *args.gin_bindings,
                         f"partitioning.Partitioner.mesh_shape = {args.mesh!r}"]
    gin_utils.parse_gin(args)
    run = gin.get_configurable(train_module.train)
    compiled, plan = run(compile_only=True)
    header = (f"{plan['model']} train step, mesh {_describe(args.mesh)}, global batch "
              f"{plan['batch_size']} x {plan['sequence_length']}, {plan['num_microbatches']} "
              f"microbatch(es), remat {plan['remat_policy']!r}, dtype {plan['dtype']}")
    return _print_plan(header, [("parameters", plan["params_bytes"]),
                                ("optimizer state", plan["opt_state_bytes"]),
                                ("batch", plan["batch_bytes"])],
                       compiled.memory_analysis(), args.device_memory)


def plan_inference_step(args: argparse.Namespace) -> dict:
    import gin

    from optiml_jax import gin_utils
    from optiml_jax.evaluation.placement import evaluation_placement

    args.gin_bindings = ['MODEL_DIR = "unused-by-plan"', *args.gin_bindings]
    gin_utils.parse_gin(args)
    # The run file's model, built only to read its config (a flax module allocates nothing).
    config = gin.query_parameter("%MODEL").scoped_configurable_fn().module.config
    placement = evaluation_placement(config, args.dtype, args.mesh)
    mesh = {axis: 1 if size == -1 else size for axis, size in placement.mesh_shape.items()}
    _fake_devices(math.prod(mesh.values()))
    import jax

    from optiml_jax.evaluation.inference import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS, InferenceEngine
    from optiml_jax.evaluation.placement import evaluation_model
    from optiml_jax.partitioning import Partitioner
    from optiml_jax.trainer import param_shardings, per_device_bytes

    model = evaluation_model(config, placement.dtype)
    partitioner = Partitioner(mesh)
    engine = InferenceEngine(model, partitioner, batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
                             max_new_tokens=DEFAULT_MAX_NEW_TOKENS)
    prompt_length = engine.max_prompt_tokens if args.prompt_length is None else args.prompt_length
    if not 0 < prompt_length <= engine.max_prompt_tokens:
        raise SystemExit(f"error: --prompt_length {prompt_length}: the evaluator takes prompts of 1 to "
                         f"{engine.max_prompt_tokens} tokens.")
    length = engine.bucket(1 + prompt_length + DEFAULT_MAX_NEW_TOKENS)  # BOS + prompt + new tokens
    rng = jax.random.PRNGKey(0)
    shapes = jax.eval_shape(lambda: model.get_initial_variables(rng, {"decoder_input_tokens": (1, 8)})["params"])
    shardings = param_shardings(model, partitioner)
    params = jax.tree.map(lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, placement.dtype, sharding=sharding),
                          shapes, shardings)
    compiled = engine.lower_generate(params, length).compile()
    header = (f"OPT with {config.num_params():,} parameters evaluation step (prefill + "
              f"{DEFAULT_MAX_NEW_TOKENS} greedy decoding steps), mesh {_describe(mesh)}, batch "
              f"{engine.batch_size} x {length} positions (prompts of {prompt_length} tokens), "
              f"dtype {placement.dtype}\nan estimate from the CPU compiler"
              + (", whose temporaries include float32 copies of bfloat16 buffers"
                 if placement.dtype == "bfloat16" else ""))
    rows = [("parameters", per_device_bytes(params, shardings)),
            ("KV cache", _kv_cache_bytes(model, partitioner, engine.batch_size, length))]
    return _print_plan(header, rows, compiled.memory_analysis(), args.device_memory)


def _kv_cache_bytes(model, partitioner, batch_size: int, length: int) -> int:
    """Bytes of keys and values one device holds, from the cache's own shapes: rows split over the
    batch axes, heads over `tensor` (as the attention's keys and values are sharded)."""
    import jax
    import jax.numpy as jnp

    def create_cache():  # A decode=True call creates the zeroed cache for rows of `length`.
        tokens = jnp.ones((batch_size, length), jnp.int32)
        return model.module.init(jax.random.PRNGKey(0), tokens, tokens, enable_dropout=False,
                                 decode=True)["cache"]

    heads = model.module.config.num_heads
    per_device = (-(-batch_size // partitioner.data_parallel_size)
                  * -(-heads // partitioner.mesh.shape["tensor"]))  # rows x heads
    return sum(leaf.size // (batch_size * heads) * per_device * leaf.dtype.itemsize
               for path, leaf in jax.tree_util.tree_flatten_with_path(jax.eval_shape(create_cache))[0]
               if path[-1].key in ("cached_key", "cached_value"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mesh", type=parse_mesh,
                        help="mesh sizes, e.g. data:8,fsdp:4,tensor:2 (required for the train step; with "
                             "--inference the default is the evaluator's placement for the model with data 1)")
    parser.add_argument("--device_memory", type=device_memory, required=True,
                        help="memory per device, e.g. 40GiB")
    parser.add_argument("--inference", action="store_true",
                        help="plan the evaluator's generation step (prefill + 256 greedy decoding steps) "
                             "instead of the train step")
    parser.add_argument("--batch_size", type=int,
                        help="with --inference: the evaluator's --batch_size (default 32)")
    parser.add_argument("--prompt_length", type=int,
                        help="with --inference: prompt tokens per row (default: the longest the evaluator "
                             "takes, 1791, so rows of 2048 positions)")
    parser.add_argument("--dtype", help="with --inference: the evaluator's --dtype (default: its default "
                                        "for the model)")
    from optiml_jax import gin_utils

    args = gin_utils.parse_args(argv if argv is not None else sys.argv[1:], parser=parser)
    if args.inference:
        return plan_inference_step(args)
    if (args.batch_size, args.prompt_length, args.dtype) != (None, None, None):
        parser.error("--batch_size, --prompt_length and --dtype go with --inference; the train step's "
                     "come from the gin file (--gin.BATCH_SIZE=...).")
    if args.mesh is None:
        parser.error("--mesh is required to plan the train step (e.g. --mesh=data:1,fsdp:32,tensor:2).")
    return plan_train_step(args)


if __name__ == "__main__":
    main()
