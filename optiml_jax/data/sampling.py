"""Which example sits at each position of a mixture's example stream, without any history.

The stream is cut into epochs of `epoch_size` positions. In every epoch task t fills exactly
`slots[t]` positions (its rate × epoch size, rounded by largest remainder), in an order given by a
permutation seeded by (seed, epoch): the paper's "resample every task to p_t × N, then shuffle"
(§4.1). The k-th use of task t overall picks example `perm(seed, t, pass)[k mod n_t]` with
`pass = k // n_t` (occurrence k of task t in epoch e is numbered e × slots[t] + its slot rank): every pass over a task visits each of its n_t examples once, in a fresh order.

So position → (task, example) is a pure function of (rates, seed, position): any position can be
computed directly, which is what makes restarts exact and cheap.
"""

from __future__ import annotations

import numpy as np

from optiml_jax.data.prompting import stable_task_hash

MIN_EPOCH_SIZE = 1 << 20


def largest_remainder(rates: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to `total` that are as close as possible to rates × total."""
    exact = rates / rates.sum() * total
    counts = np.floor(exact).astype(np.int64)
    shortfall = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:shortfall]] += 1
    return counts


class MixtureSampler:
    def __init__(self, task_names: list[str], rates: list[float], seed: int, epoch_size: int | None = None):
        self.task_names = task_names
        self.seed = seed
        self.epoch_size = epoch_size or max(MIN_EPOCH_SIZE, 64 * len(task_names))
        self.slots = largest_remainder(np.asarray(rates, dtype=np.float64), self.epoch_size)
        self._slot_starts = np.concatenate([[0], np.cumsum(self.slots)])
        self._epoch_order: tuple[int, np.ndarray] | None = None
        self._task_orders: dict[tuple[int, int], np.ndarray] = {}

    def _order_of_epoch(self, epoch: int) -> np.ndarray:
        if self._epoch_order is None or self._epoch_order[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._epoch_order = (epoch, rng.permutation(self.epoch_size))
        return self._epoch_order[1]

    def tasks_at(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each stream position: the task index and the occurrence number of that task there."""
        positions = np.asarray(positions, dtype=np.int64)
        epochs, offsets = np.divmod(positions, self.epoch_size)
        slot = np.empty_like(positions)
        for epoch in np.unique(epochs):
            selected = epochs == epoch
            slot[selected] = self._order_of_epoch(int(epoch))[offsets[selected]]
        tasks = np.searchsorted(self._slot_starts, slot, side="right") - 1
        uses = epochs * self.slots[tasks] + (slot - self._slot_starts[tasks])
        return tasks, uses

    def example_index(self, task: int, use: int, num_examples: int) -> int:
        """The example of task `task` (which has `num_examples`) for its `use`-th use."""
        task_pass, offset = divmod(int(use), num_examples)
        key = (task, task_pass)
        if key not in self._task_orders:
            if len(self._task_orders) > 4 * len(self.task_names):  # Passes move on; drop old ones.
                self._task_orders.clear()
            rng = np.random.default_rng([self.seed, stable_task_hash(self.task_names[task]), task_pass])
            self._task_orders[key] = rng.permutation(num_examples)
        return int(self._task_orders[key][offset])
