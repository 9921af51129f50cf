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

Every row of the global batch is its own packed stream. The mixture's stream of example
positions (`optiml_jax.data.sampling`: position → (task, example), a pure function) is dealt out
round-robin: row r reads positions r, r + batch_size, r + 2 batch_size, …, keeps up to
`lookahead` of them waiting in its own packing pool, and fills each step's row from that pool
(`optiml_jax.data.packing.choose_row`). So a row never depends on another row, which gives:

- Determinism: given (mixture, seed, batch_size, sequence_length, lookahead) the global batch of
  every step is fixed: identical across runs, machines and restarts from `state()` at any step.
- Work that shrinks with the number of hosts: a shard renders and tokenizes only the examples of
  its own rows (`shard_index` / `num_shards`, rows `[shard_index * batch_size // num_shards,
  (shard_index + 1) * batch_size // num_shards)`).
- The invariant across host counts (tested for 1, 2 and 4 processes): each row of each step —
  its examples and their order — is the same for any number of shards; concatenating the shards'
  rows gives exactly the single-process batch. A restart on a different number of shards
  resumes every row where it stopped (`merge_states` joins the shards' states into the global
  one a checkpoint holds), so no example is repeated or skipped.
- State: per row, how many of its positions were read and the positions still waiting in its pool
  (at most `lookahead`), plus the data fingerprint (9 characters per task and per data file):
  restoring re-reads only the waiting examples.
- Memory: tasks are opened lazily through the on-disk example store, which keeps 16 bytes per
  example in RAM; no task's data stays in memory.

Counts of truncated examples and of skipped input (per task) are in `report()`.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import warnings

import numpy as np

from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.packing import FittedExample, choose_row, fit_example, pack_rows
from optiml_jax.data.registry import TaskSpec
from optiml_jax.data.sampling import MixtureSampler
from optiml_jax.data.task_reader import TaskReader, default_vocabulary, encode_source_target

_STATE_FORMAT = 3  # 3: one packing pool per row (2: one pool for the whole batch)
DEFAULT_LOOKAHEAD = 32  # Examples waiting in each row's pool (docs/benchmark.md D14).
_PREPARE_CHUNK = 256  # At least this many stream positions are rendered and tokenized together.


@dataclasses.dataclass(frozen=True)
class ResolvedMixture:
    """A mixture with its task specs looked up: what a stream reads, picklable, so a prefetch
    worker process builds the same stream without the registrations of its parent."""

    name: str
    rates: tuple[tuple[str, float], ...]
    specs: tuple[TaskSpec, ...]

    @classmethod
    def from_registry(cls, name: str) -> "ResolvedMixture":
        mixture = registry.get_mixture(name)
        return cls(name, tuple(mixture.rates), tuple(registry.get_task(task) for task, _ in mixture.rates))


def merge_states(states: list[dict]) -> dict:
    """One state for the rows of several shards' states, which must hold adjacent blocks of rows
    (in any order; shards holding the same rows, e.g. tensor-parallel replicas, may repeat). The
    states of all shards give the whole batch's state, which restores on any number of shards."""
    by_start = {}
    for state in states:
        by_start.setdefault(state["rows"][0], state)
    merged, pulled, pools, stop = None, [], [], min(by_start, default=0)
    for start in sorted(by_start):
        state = by_start[start]
        if start != stop:
            raise ValueError(f"merge_states: rows [{stop}, {start}) are in no shard's state.")
        settings = {k: v for k, v in state.items() if k not in ("rows", "pulled", "pool")}
        if merged is None:
            merged = settings
        elif settings != merged:
            raise ValueError(f"merge_states: shards at different steps or with different settings: "
                             f"{ {k: (merged.get(k), v) for k, v in settings.items() if merged.get(k) != v} }")
        pulled += state["pulled"]
        pools += state["pool"]
        stop = state["rows"][1]
    return {**merged, "rows": [min(by_start), stop], "pulled": pulled, "pool": pools}


class PackedBatchStream:
    """An endless iterator of packed batches from a registered mixture (see module docstring)."""

    def __init__(
        self,
        mixture: str | ResolvedMixture,
        *,
        batch_size: int,
        sequence_length: int = 2048,
        seed: int = 0,
        shard_index: int = 0,
        num_shards: int = 1,
        state: dict | None = None,
        lookahead: int = DEFAULT_LOOKAHEAD,
        cache_dir: str | None = None,
    ):
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise ValueError(f"PackedBatchStream: shard_index {shard_index} is not in [0, num_shards={num_shards}).")
        if batch_size % num_shards:
            raise ValueError(f"PackedBatchStream: batch_size {batch_size} is not divisible by num_shards {num_shards}.")
        if lookahead < 1:
            raise ValueError(f"PackedBatchStream: lookahead must be at least 1, got {lookahead}.")
        if isinstance(mixture, str):
            mixture = ResolvedMixture.from_registry(mixture)
        self._rates = mixture.rates
        self._specs = list(mixture.specs)
        absent = [spec.name for spec in self._specs if spec.path is None]
        if absent:
            raise FileNotFoundError(f"mixture {mixture.name}: {len(absent)} task(s) have no local data, e.g. {absent[:3]}.")
        self.mixture_name = mixture.name
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.seed = seed
        self.lookahead = lookahead
        rows_per_shard = batch_size // num_shards
        self.rows = (shard_index * rows_per_shard, (shard_index + 1) * rows_per_shard)
        self._sampler = MixtureSampler([s.name for s in self._specs], [r for _, r in mixture.rates], seed)
        self._store = ExampleStore(cache_dir)
        self._vocabulary = default_vocabulary()
        # Once: the files a restore must find again (their digests also key the example cache).
        self._task_files = [self._store.file_digests(spec.path, spec.reader_args) for spec in self._specs]
        self._data_fingerprint = self._fingerprint()
        self._readers: dict[int, TaskReader] = {}
        self._truncations: collections.Counter = collections.Counter()
        self._step = 0
        # Per row of this shard: positions of its sub-stream read so far, and the (position,
        # example) pairs waiting in its packing pool, oldest first.
        self._pulled = [0] * rows_per_shard
        self._pools: list[list[tuple[int, FittedExample]]] = [[] for _ in range(rows_per_shard)]
        # Per row: examples prepared ahead of its pool (not part of the state: a restore
        # prepares them again).
        self._ready: list[collections.deque] = [collections.deque() for _ in range(rows_per_shard)]
        self._last_positions: list[list[int]] = []
        if state is not None:
            self.restore(state)

    # -- examples ------------------------------------------------------------------------------

    def _reader(self, task: int) -> TaskReader:
        if task not in self._readers:
            self._readers[task] = TaskReader(self._specs[task], self._store)
        return self._readers[task]

    def _prepare(self, positions: np.ndarray) -> list[tuple[int, FittedExample]]:
        """Renders, tokenizes and fits the examples at these stream positions."""
        if len(positions) == 0:
            return []
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

    def _row_positions(self, local_row: int, first: int, count: int) -> range:
        """Stream positions `first … first + count - 1` of a local row's sub-stream."""
        row = self.rows[0] + local_row
        return range(row + first * self.batch_size, row + (first + count) * self.batch_size, self.batch_size)

    def _top_up_pools(self) -> None:
        """Fills every row's pool to `lookahead` from its prepared examples, preparing more for
        all rows in one batch (at least `_PREPARE_CHUNK` positions) when a row runs short."""
        if any(len(ready) < self.lookahead - len(pool) for pool, ready in zip(self._pools, self._ready)):
            most_missing = max(self.lookahead - len(pool) for pool in self._pools)
            ahead = max(most_missing, -(-_PREPARE_CHUNK // len(self._pools)))
            wanted, counts = [], []
            for local_row, ready in enumerate(self._ready):
                first = self._pulled[local_row] + len(ready)
                counts.append(max(0, ahead - len(ready)))
                wanted.extend(self._row_positions(local_row, first, counts[-1]))
            prepared = iter(self._prepare(np.asarray(wanted, dtype=np.int64)))
            for ready, count in zip(self._ready, counts):
                ready.extend(next(prepared) for _ in range(count))
        for local_row, (pool, ready) in enumerate(zip(self._pools, self._ready)):
            missing = self.lookahead - len(pool)
            pool.extend(ready.popleft() for _ in range(missing))
            self._pulled[local_row] += missing

    def _next_row(self, pool: list[tuple[int, FittedExample]]) -> list[tuple[int, FittedExample]]:
        chosen = choose_row([example.length for _, example in pool], self.sequence_length)
        row = [pool[i] for i in chosen]
        for i in sorted(chosen, reverse=True):
            del pool[i]
        self._truncations.update(example.truncation for _, example in row if example.truncation)
        return row

    # -- iteration and state ---------------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        self._top_up_pools()
        rows = [self._next_row(pool) for pool in self._pools]
        self._step += 1
        self._last_positions = [[position for position, _ in row] for row in rows]
        return pack_rows([[example for _, example in row] for row in rows], self.sequence_length)

    def last_positions(self) -> list[list[int]]:
        """The stream positions packed into each of this shard's rows in the last batch, in order."""
        return [list(row) for row in self._last_positions]

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
        """Everything needed to continue exactly here, for this shard's rows (JSON-serialisable:
        about `lookahead` integers per row and the data fingerprint). `merge_states` joins the
        shards' states into the whole batch's."""
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
            "rows": list(self.rows),
            "pulled": list(self._pulled),
            "pool": [[position for position, _ in pool] for pool in self._pools],
        }

    def restore(self, state: dict) -> None:
        """Continues from `state`: this shard's rows are taken from it, so a state saved with
        another number of shards (merged by `merge_states`) restores too."""
        if state.get("format") != _STATE_FORMAT:
            raise ValueError(f"PackedBatchStream.restore: state format {state.get('format')!r}, this version reads "
                             f"{_STATE_FORMAT} (one packing pool per row); a state from an older version cannot be "
                             f"continued exactly.")
        position = ("step", "rows", "pulled", "pool", "numpy")
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
        start, stop = state["rows"]
        if not (start <= self.rows[0] and self.rows[1] <= stop):
            raise ValueError(f"PackedBatchStream.restore: the state holds rows [{start}, {stop}), this shard reads "
                             f"rows [{self.rows[0]}, {self.rows[1]}); merge the shards' states first (merge_states).")
        if state.get("numpy") != np.__version__:
            warnings.warn(f"PackedBatchStream.restore: state saved with numpy {state.get('numpy')}, running {np.__version__}; "
                          f"numpy does not promise identical random permutations across versions, so the resumed "
                          f"stream may differ from an uninterrupted run.", stacklevel=2)
        mine = slice(self.rows[0] - start, self.rows[1] - start)
        self._step = int(state["step"])
        self._pulled = [int(n) for n in state["pulled"][mine]]
        pools = [[int(p) for p in pool] for pool in state["pool"][mine]]
        prepared = iter(self._prepare(np.asarray([p for pool in pools for p in pool], dtype=np.int64)))
        self._pools = [[next(prepared) for _ in pool] for pool in pools]
        self._ready = [collections.deque() for _ in pools]
        self._last_positions = []

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
