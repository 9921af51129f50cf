"""`PackedBatchStream`: the trainer's host-side input, packed OPT-IML batches without tf.data.

    import optiml_jax.tasks  # registers the OPT-IML Bench (tasks and mixtures)
    from optiml_jax.data.pipeline import PackedBatchStream

    stream = PackedBatchStream("opt_iml_train", batch_size=256, sequence_length=2048, seed=0,
                               shard_index=jax.process_index(), num_shards=jax.process_count())
    batch = next(stream)   # dict of numpy arrays, each [batch_size // num_shards, sequence_length]
    state = stream.state() # small JSON-serialisable dict; save it with the checkpoint
    stream = PackedBatchStream("opt_iml_train", batch_size=256, ..., state=state)  # or stream.restore(state)

`batch` has t5x's field names (`optiml_jax.data.packing`): `decoder_input_tokens`,
`decoder_target_tokens`, `decoder_segment_ids`, `decoder_positions` (int32) and
`decoder_loss_weights` (float32, 1 on target tokens only).

Guarantees:
- Given (mixture, seed, batch_size, sequence_length) the global batch of every step is fixed:
  identical across runs, machines and restarts from `state()` at any step.
- Sharding: every process computes the same global batch and keeps rows
  `[shard_index * batch_size // num_shards, (shard_index + 1) * batch_size // num_shards)`. The union
  of all shards' rows is exactly the single-process batch, for any number of shards; the price is
  that each process tokenizes the whole global batch (measured by benchmarks/mixture_scale.py).
- State is the step, the next stream position and the positions of the examples waiting in the
  packing pool (`lookahead` integers), plus the data fingerprint (9 characters per task and per
  data file): restoring re-reads only those examples.
- Memory: tasks are opened lazily through the on-disk example store, which keeps 16 bytes per
  example in RAM; no task's data stays in memory.

Counts of truncated examples and of skipped input (per task) are in `report()`.
"""

from __future__ import annotations

import collections
import hashlib
import warnings

import numpy as np

from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.packing import FittedExample, choose_row, fit_example, pack_rows
from optiml_jax.data.sampling import MixtureSampler
from optiml_jax.data.task_reader import TaskReader, default_vocabulary, encode_source_target

_STATE_FORMAT = 2  # 2: the data fingerprint has one digest per file, not per task
_PREPARE_CHUNK = 256  # Stream positions rendered and tokenized together.


class PackedBatchStream:
    """An endless iterator of packed batches from a registered mixture (see module docstring)."""

    def __init__(
        self,
        mixture_name: str,
        *,
        batch_size: int,
        sequence_length: int = 2048,
        seed: int = 0,
        shard_index: int = 0,
        num_shards: int = 1,
        state: dict | None = None,
        lookahead: int = 128,
        cache_dir: str | None = None,
    ):
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise ValueError(f"PackedBatchStream: shard_index {shard_index} is not in [0, num_shards={num_shards}).")
        if batch_size % num_shards:
            raise ValueError(f"PackedBatchStream: batch_size {batch_size} is not divisible by num_shards {num_shards}.")
        if lookahead < 1:
            raise ValueError(f"PackedBatchStream: lookahead must be at least 1, got {lookahead}.")
        mixture = registry.get_mixture(mixture_name)
        self._rates = mixture.rates
        self._specs = [registry.get_task(name) for name, _ in mixture.rates]
        absent = [spec.name for spec in self._specs if spec.path is None]
        if absent:
            raise FileNotFoundError(f"mixture {mixture_name}: {len(absent)} task(s) have no local data, e.g. {absent[:3]}.")
        self.mixture_name = mixture_name
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.seed = seed
        self.lookahead = lookahead
        rows_per_shard = batch_size // num_shards
        self._rows = slice(shard_index * rows_per_shard, (shard_index + 1) * rows_per_shard)
        self._sampler = MixtureSampler([s.name for s in self._specs], [r for _, r in mixture.rates], seed)
        self._store = ExampleStore(cache_dir)
        self._vocabulary = default_vocabulary()
        # Once: the files a restore must find again (their digests also key the example cache).
        self._task_files = [self._store.file_digests(spec.path, spec.reader_args) for spec in self._specs]
        self._data_fingerprint = self._fingerprint()
        self._readers: dict[int, TaskReader] = {}
        self._truncations: collections.Counter = collections.Counter()
        self._step = 0
        self._next_position = 0  # First stream position not yet in the pool.
        self._pool: list[tuple[int, FittedExample]] = []  # (position, example), oldest first.
        self._ready: collections.deque = collections.deque()  # Prepared (position, example) after the pool.
        if state is not None:
            self.restore(state)

    # -- examples ------------------------------------------------------------------------------

    def _reader(self, task: int) -> TaskReader:
        if task not in self._readers:
            self._readers[task] = TaskReader(self._specs[task], self._store)
        return self._readers[task]

    def _prepare(self, positions: np.ndarray) -> list[tuple[int, FittedExample]]:
        """Renders, tokenizes and fits the examples at these stream positions."""
        tasks, uses = self._sampler.tasks_at(positions)
        by_task: dict[int, list[int]] = collections.defaultdict(list)
        for slot, task in enumerate(tasks.tolist()):
            by_task[task].append(slot)
        pairs: list[tuple[str, str] | None] = [None] * len(positions)
        for task, slots in by_task.items():
            reader = self._reader(task)
            indices = [self._sampler.example_index(task, uses[s], len(reader)) for s in slots]
            for slot, example in zip(slots, reader.render(indices)):
                pairs[slot] = (example.source, example.target)
        encoded = encode_source_target(self._vocabulary, pairs)
        return [
            (int(p), fit_example(source, target, self.sequence_length)) for p, (source, target) in zip(positions, encoded)
        ]

    def examples_at(self, positions) -> list[tuple[str, str]]:
        """(task name, example id) at these stream positions: which data a run trains on, without
        rendering or tokenizing anything (every position is a pure function of the mixture)."""
        tasks, uses = self._sampler.tasks_at(np.asarray(positions, dtype=np.int64))
        found = []
        for task, use in zip(tasks.tolist(), uses.tolist()):
            reader = self._reader(task)
            example = reader.examples[self._sampler.example_index(task, use, len(reader))]
            found.append((self._specs[task].name, example.id))
        return found

    def _top_up_pool(self) -> None:
        while len(self._pool) < self.lookahead:
            if not self._ready:
                start = self._next_position
                self._ready.extend(self._prepare(np.arange(start, start + _PREPARE_CHUNK)))
            self._pool.append(self._ready.popleft())
            self._next_position += 1

    def _next_row(self) -> list[FittedExample]:
        self._top_up_pool()
        chosen = choose_row([example.length for _, example in self._pool], self.sequence_length)
        row = [self._pool[i][1] for i in chosen]
        for i in sorted(chosen, reverse=True):
            del self._pool[i]
        self._truncations.update(example.truncation for example in row if example.truncation)
        return row

    # -- iteration and state ---------------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        rows = [self._next_row() for _ in range(self.batch_size)]
        self._step += 1
        return pack_rows(rows[self._rows], self.sequence_length)

    def _fingerprint(self) -> str:
        """What the stream reads: per task of the mixture, in order, a digest of its name and rate,
        then the content digest of every file its reader reads (e.g. PromptSource templates and
        rows; a prepared TFDS dataset: every file of its folder), 8 hex digits each, joined by
        ":"; the tasks joined by ".".

        A restore with another fingerprint would silently continue on different data (files
        added, removed, replaced or edited in place since the state was saved), so it is refused,
        naming each file whose digest changed. Content, not size or modification time: an edit
        that keeps the size (and even the timestamp) changes it, while the same data copied to
        another host or restored from a backup keeps it.
        """
        tasks = []
        for spec, (_, rate), files in zip(self._specs, self._rates, self._task_files):
            settings = hashlib.blake2b(f"{spec.name}\t{rate!r}\n".encode(), digest_size=4).hexdigest()
            tasks.append(":".join([settings] + [digest[:8] for _, digest in files]))
        return ".".join(tasks)

    def _fingerprint_change(self, saved: str | None) -> str:
        """Which of the mixture's tasks and data files differ from those a saved fingerprint
        describes."""
        saved_tasks = (saved or "").split(".")
        tasks = self._data_fingerprint.split(".")
        if len(saved_tasks) != len(tasks):
            return (f"the state describes {len(saved_tasks)} task(s), the mixture now has "
                    f"{len(tasks)} (tasks added or removed)")
        changed = []
        for spec, files, old, new in zip(self._specs, self._task_files, saved_tasks, tasks):
            (old_settings, *old_files), (new_settings, *new_files) = old.split(":"), new.split(":")
            if old_settings != new_settings:
                changed.append(f"{spec.name} (its name or rate)")
            if len(old_files) != len(new_files):
                changed.append(f"{spec.name} ({len(old_files)} data file(s) when saved, "
                               f"{len(new_files)} now, from {spec.path})")
            else:
                changed += [f"{spec.name} ({file})" for (file, _), a, b
                            in zip(files, old_files, new_files) if a != b]
        return (f"{len(changed)} task file(s) or rates differ from what the state was saved "
                f"with: {', '.join(changed[:5])}{', …' if len(changed) > 5 else ''}")

    def state(self) -> dict:
        """Everything needed to continue exactly here (JSON-serialisable: ~lookahead integers and the
        data fingerprint)."""
        return {
            "format": _STATE_FORMAT,
            "mixture": self.mixture_name,
            "fingerprint": self._data_fingerprint,
            "numpy": np.__version__,  # sampling uses numpy's permutations
            "seed": self.seed,
            "batch_size": self.batch_size,
            "sequence_length": self.sequence_length,
            "lookahead": self.lookahead,
            "step": self._step,
            "next_position": self._next_position,
            "pool": [position for position, _ in self._pool],
        }

    def restore(self, state: dict) -> None:
        position = ("step", "next_position", "pool", "numpy")
        expected = {k: v for k, v in self.state().items() if k not in position}
        mismatched = {k: (state.get(k), v) for k, v in expected.items() if state.get(k) != v}
        if mismatched:
            why = ""
            if "fingerprint" in mismatched:
                why = (f" (the mixture's tasks, rates or data files changed since it was saved: "
                       f"{self._fingerprint_change(state.get('fingerprint'))})")
                del mismatched["fingerprint"]  # named above, far too long to print
            others = f" (saved, now): {mismatched}" if mismatched else ""
            raise ValueError(f"PackedBatchStream.restore: state was saved with different settings{why}{others}")
        if state.get("numpy") != np.__version__:
            warnings.warn(f"PackedBatchStream.restore: state saved with numpy {state.get('numpy')}, running {np.__version__}; "
                          f"numpy does not promise identical random permutations across versions, so the resumed "
                          f"stream may differ from an uninterrupted run.", stacklevel=2)
        self._step = int(state["step"])
        self._next_position = int(state["next_position"])
        self._ready.clear()
        self._pool = self._prepare(np.asarray(state["pool"], dtype=np.int64)) if state["pool"] else []

    @property
    def step(self) -> int:
        return self._step

    def report(self) -> dict:
        """Truncated examples placed so far, and skipped input of every task opened so far."""
        return {
            "truncated_examples": dict(self._truncations),
            "skipped_input": {r.spec.name: r.skipped for r in self._readers.values() if r.skipped},
            "tasks_opened": len(self._readers),
            "tasks_in_mixture": len(self._specs),
        }
