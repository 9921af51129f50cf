"""`PrefetchingStream`: packed batches prepared ahead, in worker processes, off the training loop.

    stream = PrefetchingStream("opt_iml_train", batch_size=256, sequence_length=2048,
                               shard_index=..., num_shards=..., state=saved, workers=2, depth=2)
    batch = next(stream)      # this shard's rows, as PackedBatchStream yields them
    stream.state()            # the position after the batch the caller last took (not after the
                              # batches waiting in the queue): what a checkpoint of that step holds
    stream.close()

Each of the `workers` processes runs its own `PackedBatchStream` over one contiguous block of
this shard's rows (rows never depend on each other, `optiml_jax.data.pipeline`), keeps up to
`depth` finished batches in a bounded queue, and the caller concatenates the blocks. So the
batches are exactly those of one `PackedBatchStream` over the shard's rows, for any number of
workers, and the caller waits only when a queue is empty. With `workers=0` the batches are
prepared in the caller's thread, one at a time (the baseline `benchmarks/train_throughput.py`
compares against).

Why processes and not a thread: rendering prompts and packing rows is Python that holds the GIL,
so a thread would take its time from the training loop's own thread; processes run on the host's
other cores (docs/architecture.md). Workers are started with "spawn", as forking a process that
runs JAX can deadlock; they read the mixture passed to them (`ResolvedMixture`), not the
registry, so tasks registered at run time reach them too. As with any "spawn" start (PyTorch's
DataLoader workers alike), a script that starts workers at import time must guard its main code
with `if __name__ == "__main__":`, since each worker imports the script again.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
import traceback

import numpy as np

from optiml_jax.data.pipeline import DEFAULT_LOOKAHEAD, PackedBatchStream, ResolvedMixture, merge_states

_POLL_S = 1.0  # How often a waiting caller checks that the workers are still alive.


def _merge_reports(reports: list[dict]) -> dict:
    truncated: dict[str, int] = {}
    skipped: dict[str, dict[str, int]] = {}
    for report in reports:
        for reason, count in report["truncated_examples"].items():
            truncated[reason] = truncated.get(reason, 0) + count
        for task, reasons in report["skipped_input"].items():
            # What a task's reader skipped is the same in every worker that opened the task.
            for reason, count in reasons.items():
                skipped.setdefault(task, {})[reason] = max(skipped.get(task, {}).get(reason, 0), count)
    return {"truncated_examples": truncated, "skipped_input": skipped,
            "tasks_opened": max((r["tasks_opened"] for r in reports), default=0),
            "tasks_in_mixture": max((r["tasks_in_mixture"] for r in reports), default=0)}


def _work(mixture: ResolvedMixture, settings: dict, state: dict | None, batches, stop, parent: int) -> None:
    """A worker process: its block's batches into `batches` until `stop` is set or the parent
    process is gone (killed: a worker outliving it would hold the parent's output pipes open)."""

    def running() -> bool:
        return not stop.is_set() and os.getppid() == parent

    try:
        stream = PackedBatchStream(mixture, **settings, state=state)
        batches.put(("ready", stream.state(), stream.report(), 0.0))
        while running():
            started = time.thread_time()
            batch = next(stream)
            item = ("batch", batch, stream.state(), stream.report(), time.thread_time() - started)
            while running():
                try:
                    batches.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
    except BaseException:  # noqa: BLE001 (everything goes back to the caller, which raises it)
        batches.put(("error", traceback.format_exc()))


class PrefetchingStream:
    """This shard's packed batches, prepared by `workers` processes (see module docstring)."""

    def __init__(self, mixture: str | ResolvedMixture, *, batch_size: int, sequence_length: int = 2048,
                 seed: int = 0, shard_index: int = 0, num_shards: int = 1, state: dict | None = None,
                 lookahead: int = DEFAULT_LOOKAHEAD, cache_dir: str | None = None, workers: int = 1,
                 depth: int = 2):
        if workers < 0 or depth < 1:
            raise ValueError(f"PrefetchingStream: workers must be ≥ 0 and depth ≥ 1, got {workers} and {depth}.")
        if isinstance(mixture, str):
            mixture = ResolvedMixture.from_registry(mixture)
        settings = dict(batch_size=batch_size, sequence_length=sequence_length, seed=seed,
                        lookahead=lookahead, cache_dir=cache_dir)
        self._local: PackedBatchStream | None = None
        self._processes: list = []
        self.input_cpu_s = 0.0  # Host CPU time spent preparing the last batch taken (all workers).
        self.workers = workers
        if workers == 0:
            self._local = PackedBatchStream(mixture, **settings, shard_index=shard_index,
                                            num_shards=num_shards, state=state)
            self._state, self._report = self._local.state(), self._local.report()
            return
        if batch_size % num_shards:
            raise ValueError(f"PrefetchingStream: batch_size {batch_size} is not divisible by num_shards {num_shards}.")
        rows = batch_size // num_shards
        # Equal blocks of rows: the most workers, up to `workers`, that divide the shard's rows.
        self.workers = max(w for w in range(1, min(workers, rows) + 1) if rows % w == 0)
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._queues = [context.Queue(maxsize=depth) for _ in range(self.workers)]
        for worker, batches in enumerate(self._queues):
            block = dict(settings, shard_index=shard_index * self.workers + worker,
                         num_shards=num_shards * self.workers)
            process = context.Process(target=_work, args=(mixture, block, state, batches, self._stop, os.getpid()),
                                      name=f"optiml_jax-prefetch-{worker}", daemon=True)
            process.start()
            self._processes.append(process)
        try:
            ready = [self._take(worker, "ready") for worker in range(self.workers)]
        except BaseException:
            self.close()
            raise
        self._state = merge_states([item[1] for item in ready])
        self._report = _merge_reports([item[2] for item in ready])

    def _take(self, worker: int, kind: str) -> tuple:
        batches, process = self._queues[worker], self._processes[worker]
        while True:
            try:
                item = batches.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"PrefetchingStream: worker {worker} (pid {process.pid}) exited with code "
                                       f"{process.exitcode} without an error report (killed, e.g. out of memory?).") from None
        if item[0] == "error":
            raise RuntimeError(f"PrefetchingStream: worker {worker} failed:\n{item[1]}")
        assert item[0] == kind, (item[0], kind)
        return item

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self._local is not None:
            started = time.thread_time()
            batch = next(self._local)
            self.input_cpu_s = time.thread_time() - started
            self._state, self._report = self._local.state(), self._local.report()
            return batch
        items = [self._take(worker, "batch") for worker in range(self.workers)]
        self._state = merge_states([item[2] for item in items])
        self._report = _merge_reports([item[3] for item in items])
        self.input_cpu_s = sum(item[4] for item in items)
        return {key: np.concatenate([item[1][key] for item in items]) for key in items[0][1]}

    def state(self) -> dict:
        """The stream position after the last batch taken (see `PackedBatchStream.state`)."""
        return self._state

    def report(self) -> dict:
        """`PackedBatchStream.report` over every worker, as of the last batch taken."""
        return self._report

    def close(self) -> None:
        """Stops and joins the workers (a no-op with `workers=0`)."""
        if not self._processes:
            return
        self._stop.set()
        for batches, process in zip(self._queues, self._processes):
            # A worker blocked on a full queue only notices `stop` between its put attempts;
            # emptying the queue also lets its feeder thread exit.
            deadline = time.monotonic() + 10
            while process.is_alive() and time.monotonic() < deadline:
                try:
                    batches.get(timeout=0.1)
                except queue.Empty:
                    pass
            if process.is_alive():
                process.terminate()
            process.join()
            batches.close()
            batches.cancel_join_thread()
        self._processes = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
