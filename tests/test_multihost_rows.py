"""Each process feeds the batch rows its devices hold, also when tensor parallelism spans hosts."""

import os
import subprocess
import sys

import pytest

from train_runs import REPO

SCRIPT = r"""
import os, sys
import jax
import numpy as np
jax.config.update("jax_cpu_collectives_implementation", "gloo")
index, port, mesh = int(sys.argv[1]), sys.argv[2], eval(sys.argv[3])
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=index)
from optiml_jax.partitioning import Partitioner
from optiml_jax.train import DatasetConfig, _global_batch, process_rows
partitioner = Partitioner(mesh)
cfg = DatasetConfig("unused", {"inputs": 2, "targets": 1}, batch_size=8)
shard, num_shards = process_rows(partitioner, cfg.batch_size, cfg.sequence_length)
rows = cfg.batch_size // num_shards
local = np.arange(shard * rows, (shard + 1) * rows, dtype=np.int32)[:, None].repeat(3, 1)
batch = _global_batch({"x": local}, partitioner, cfg)["x"]
total = jax.jit(lambda x: x.sum(), out_shardings=partitioner.replicated())(batch)
print(f"RESULT {shard} {num_shards} {batch.shape} {int(total)}", flush=True)
"""


@pytest.mark.parametrize("mesh, expected_shards", [
    ({"data": 1, "fsdp": 1, "tensor": 4}, {(0, 1)}),        # tensor axis spans both processes
    ({"data": 1, "fsdp": 4, "tensor": 1}, {(0, 2), (1, 2)}),  # each process its own rows
    ({"data": 2, "fsdp": 1, "tensor": 2}, {(0, 2), (1, 2)}),
])
def test_rows_per_process(mesh, expected_shards):
    port = 21000 + os.getpid() % 20000
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    jobs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(i), str(port), repr(mesh)],
                             env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for i in range(2)]
    results = []
    for job in jobs:
        out, err = job.communicate(timeout=300)
        assert job.returncode == 0, err[-2000:]
        results.append(next(line for line in out.splitlines() if line.startswith("RESULT")).split())
    shards = {(int(r[1]), int(r[2])) for r in results}
    assert shards == expected_shards
    for r in results:
        assert r[3] + r[4] == "(8,3)" and int(r[5]) == 3 * sum(range(8))
