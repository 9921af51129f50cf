"""Input work per host as hosts are added: 1, 2 and 4 processes feeding one global batch.

    OPTIML_DATA_DIR=... python benchmarks/host_scaling.py [--processes 1,2,4] [--batch-size 32] [--steps 8]

For each process count N, N processes start `jax.distributed` on localhost (2 CPU devices each, a
data-parallel mesh over all of them, as the multi-host tests do), take their rows of the global
batch from the mesh (`optiml_jax.train.process_rows`), and prepare them with the trainer's
`PackedBatchStream` on the real OPT-IML mixture (`opt_iml_train`, 2048-token rows). Each process
reports the CPU time of its own thread per step (`time.thread_time`, the mean over the steps
after one warm-up step, as examples are prepared for several steps at a time): host work, which wall time would blur on a machine with fewer cores than
processes. Each process also reports a digest of its rows, so the script checks that the global
batches are the same for every N (the invariant of `optiml_jax.data.pipeline`).

Prints a table and, last, one JSON line with per-process host time per step and its ratio to the
single process's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import hashlib, json, sys, time
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
index, count, port, batch_size, steps = (int(a) for a in sys.argv[1:6])
jax.distributed.initialize(f"localhost:{port}", num_processes=count, process_id=index)
import optiml_jax.tasks  # noqa: F401  (registers the bench)
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.partitioning import Partitioner
from optiml_jax.train import process_rows
partitioner = Partitioner({"data": jax.device_count()})
shard, num_shards = process_rows(partitioner, batch_size, 2048)
stream = PackedBatchStream("opt_iml_train", batch_size=batch_size, sequence_length=2048,
                           shard_index=shard, num_shards=num_shards)
times, digests = [], []
for step in range(steps + 1):
    started = time.thread_time()
    batch = next(stream)
    if step:  # the first step opens the tasks' files
        times.append(time.thread_time() - started)
    rows = []
    for row in range(len(batch["decoder_input_tokens"])):
        digest = hashlib.blake2b(digest_size=8)
        for key in sorted(batch):
            digest.update(batch[key][row].tobytes())
        rows.append(digest.hexdigest())
    digests.append(rows)
print("RESULT " + json.dumps({"shard": shard, "num_shards": num_shards,
                              "host_s_per_step": sum(times) / len(times), "digests": digests,
                              "rows": list(stream.rows)}), flush=True)
"""


def run(count: int, batch_size: int, steps: int) -> list[dict]:
    port = 23000 + (os.getpid() * 7 + count) % 20000
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    jobs = [subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(count), str(port),
                              str(batch_size), str(steps)], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(count)]
    results = []
    for job in jobs:
        out, err = job.communicate(timeout=1800)
        if job.returncode:
            raise RuntimeError(f"a process of the {count}-process run failed:\n{err[-3000:]}")
        results.append(json.loads(next(line for line in out.splitlines()
                                        if line.startswith("RESULT "))[len("RESULT "):]))
    return sorted(results, key=lambda r: r["shard"])


def global_rows(results: list[dict]) -> list[list[str]]:
    """Per step, the digests of the global batch's rows in row order (shards by their rows)."""
    results = sorted(results, key=lambda r: r["rows"][0])
    return [[row for r in results for row in r["digests"][step]]
            for step in range(len(results[0]["digests"]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=24)
    args = parser.parse_args()
    counts = [int(c) for c in args.processes.split(",")]
    runs = {count: run(count, args.batch_size, args.steps) for count in counts}
    reference = runs[counts[0]]
    single = max(r["host_s_per_step"] for r in reference)
    table = {}
    for count, results in runs.items():
        per_process = [r["host_s_per_step"] for r in results]
        table[count] = {"host_s_per_step": [round(t, 4) for t in per_process],
                        "max_ratio_to_first": round(max(per_process) / single, 3)}
    same = {count: global_rows(results) == global_rows(reference) for count, results in runs.items()}
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    print(f"host CPU time per step for a global batch of {args.batch_size} x 2048 on {machine}")
    print(f"{'processes':>9s} {'per process, s':>36s} {f'max / {counts[0]} proc.':>14s} {'same batches':>13s}")
    for count, row in table.items():
        print(f"{count:9d} {str(row['host_s_per_step']):>36s} {row['max_ratio_to_first']:14.3f} "
              f"{str(same[count]):>13s}")
    print(json.dumps({"benchmark": "host_scaling", "machine": machine,
                      "batch_size": args.batch_size, "steps": args.steps, "processes": table,
                      "same_global_batches": same}))


if __name__ == "__main__":
    main()
