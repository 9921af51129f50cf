"""Will a run fit? Compile the real train step for a mesh of fake devices and read XLA's plan.

    python -m optiml_jax.plan --gin_file=gin/native/opt_iml_30b.gin \\
        --mesh=data:1,fsdp:32,tensor:2 --device_memory=40GiB [--gin.X=Y ...]

The train step of the gin run file (model, batch, microbatches, optimizer, remat) is lowered and
compiled ahead of time for a simulated mesh of CPU devices; nothing is allocated. Per device it
prints the parameters, optimizer state and batch (from their shardings) and XLA's memory
analysis: arguments, temporaries (activations, gradients, workspace) and outputs that do not
reuse donated inputs. The CPU compiler schedules and fuses differently from TPU/GPU compilers,
so treat temporaries as an estimate and keep a margin.
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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mesh", type=parse_mesh, required=True,
                        help="mesh sizes, e.g. data:8,fsdp:4,tensor:2")
    parser.add_argument("--device_memory", type=device_memory, required=True,
                        help="memory per device, e.g. 40GiB")
    from optiml_jax import gin_utils

    args = gin_utils.parse_args(argv if argv is not None else sys.argv[1:], parser=parser)
    num_devices = math.prod(args.mesh.values())
    # Fake exactly the mesh's devices on the CPU; must happen before JAX initialises.
    os.environ["XLA_FLAGS"] = (re.sub(r"--xla_force_host_platform_device_count=\d+", "",
                                      os.environ.get("XLA_FLAGS", ""))
                               + f" --xla_force_host_platform_device_count={num_devices}")
    os.environ["JAX_PLATFORMS"] = "cpu"
    import gin

    from optiml_jax import train as train_module

    args.gin_bindings = ['MODEL_DIR = "unused-by-plan"', *args.gin_bindings,
                         f"partitioning.Partitioner.mesh_shape = {args.mesh!r}"]
    gin_utils.parse_gin(args)
    run = gin.get_configurable(train_module.train)
    compiled, plan = run(compile_only=True)
    memory = compiled.memory_analysis()
    rows = [
        ("parameters", plan["params_bytes"]),
        ("optimizer state", plan["opt_state_bytes"]),
        ("batch", plan["batch_bytes"]),
        ("XLA: arguments", memory.argument_size_in_bytes),
        ("XLA: temporaries", memory.temp_size_in_bytes),
        ("XLA: outputs not aliased to inputs",
         memory.output_size_in_bytes - memory.alias_size_in_bytes),
        ("XLA: generated code", memory.generated_code_size_in_bytes),
    ]
    total = (memory.argument_size_in_bytes + memory.temp_size_in_bytes
             + memory.output_size_in_bytes - memory.alias_size_in_bytes
             + memory.generated_code_size_in_bytes)
    mesh = " x ".join(f"{axis} {size}" for axis, size in args.mesh.items())
    print(f"{plan['model']} train step, mesh {mesh} ({num_devices} devices), global batch "
          f"{plan['batch_size']} x {plan['sequence_length']}, {plan['num_microbatches']} "
          f"microbatch(es), remat {plan['remat_policy']!r}, dtype {plan['dtype']}")
    print("per device:")
    for name, value in rows:
        print(f"  {name:38s}{_gib(value)}")
    verdict = "fits" if total <= args.device_memory else "DOES NOT FIT"
    print(f"  {'total (arguments + temporaries + outputs)':38s}{_gib(total)}   "
          f"{verdict} in {args.device_memory / 2**30:.0f} GiB "
          f"({100 * total / args.device_memory:.0f}%)")
    return {"total_bytes": total, "device_memory": args.device_memory,
            "fits": total <= args.device_memory, **dict(rows)}


if __name__ == "__main__":
    main()
