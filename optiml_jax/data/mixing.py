"""Task sampling rates for a training mixture, computed once as plain numbers (paper §4.2–4.3).

1. Examples-proportional with a per-task cap ("EPS", default 4096): weight = min(n, EPS).
2. Optional temperature: weight ** (1 / T) (T = 1, the paper's setting, changes nothing).
3. Per-benchmark proportions: within each benchmark the weights are normalised and scaled to the
   benchmark's share. The paper's final shares are CrossFit 4, ExMix 2, FLAN 20, SuperNI 25,
   PromptSource 45, T5 2, UnifiedSKG 2 (%), plus 1% reasoning and 5% pre-training text. How the
   last two were carved out is not stated; we treat all nine as parts of 106 (docs/benchmark.md).
   Benchmarks with no task in the mixture are dropped and the remaining shares renormalised; the
   report names them, so this never happens silently.

`proportions=None` keeps the natural examples-proportional mix across benchmarks.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

DEFAULT_EPS = 4096
# §2.1: "we take maximally 100k examples (at random) per task from all benchmarks except FLAN,
# where we take maximally 30k examples per task".
TASK_CAP = 100_000
FLAN_TASK_CAP = 30_000
PAPER_BENCHMARK_PROPORTIONS = {
    "crossfit": 4.0,
    "exmix": 2.0,
    "flan": 20.0,
    "superni": 25.0,
    "promptsource": 45.0,
    "t5": 2.0,
    "unifiedskg": 2.0,
    "reasoning": 1.0,
    "pretraining": 5.0,
}


def task_cap(benchmark: str) -> int:
    """The most training examples one task of `benchmark` contributes (§2.1)."""
    return FLAN_TASK_CAP if benchmark == "flan" else TASK_CAP


@dataclasses.dataclass(frozen=True)
class MixingRates:
    """Per-task probabilities (summing to 1) and how they were obtained."""

    rates: dict[str, float]
    benchmark_shares: dict[str, float]
    absent_benchmarks: tuple[str, ...]
    capped_tasks: int
    eps: int
    temperature: float

    def describe(self) -> str:
        shares = ", ".join(f"{b} {100 * s:.2f}%" for b, s in sorted(self.benchmark_shares.items()))
        lines = [
            f"{len(self.rates)} tasks; EPS {self.eps} caps {self.capped_tasks} of them; temperature {self.temperature:g}",
            f"benchmark shares: {shares}",
        ]
        if self.absent_benchmarks:
            lines.append(
                "benchmarks with no task here (their shares were renormalised away): " + ", ".join(self.absent_benchmarks)
            )
        return "\n".join(lines)


def compute_mixing_rates(
    tasks: Mapping[str, tuple[str, int]],
    *,
    eps: int | None = DEFAULT_EPS,
    temperature: float = 1.0,
    proportions: Mapping[str, float] | None = PAPER_BENCHMARK_PROPORTIONS,
) -> MixingRates:
    """`tasks` maps a task name to (benchmark, number of training examples)."""
    if not tasks:
        raise ValueError("compute_mixing_rates: the mixture has no tasks.")
    if temperature <= 0:
        raise ValueError(f"compute_mixing_rates: temperature must be positive, got {temperature}.")
    weights, capped = {}, 0
    for name, (benchmark, count) in tasks.items():
        if count <= 0:
            raise ValueError(f"compute_mixing_rates: task {name!r} has {count} examples; it cannot be sampled.")
        if eps is not None and count > eps:
            capped += 1
            count = eps
        weights[name] = float(count) ** (1.0 / temperature)

    by_benchmark: dict[str, float] = {}
    for name, (benchmark, _) in tasks.items():
        by_benchmark[benchmark] = by_benchmark.get(benchmark, 0.0) + weights[name]
    if proportions is None:
        total = sum(by_benchmark.values())
        shares, absent = {b: w / total for b, w in by_benchmark.items()}, ()
    else:
        unknown = sorted(set(by_benchmark) - set(proportions))
        if unknown:
            raise ValueError(f"compute_mixing_rates: no proportion given for benchmark(s) {unknown}; add them to `proportions`.")
        present_total = sum(proportions[b] for b in by_benchmark)
        shares = {b: proportions[b] / present_total for b in by_benchmark}
        absent = tuple(sorted(b for b in proportions if b not in by_benchmark))
    rates = {name: shares[b] * weights[name] / by_benchmark[b] for name, (b, _) in tasks.items()}
    return MixingRates(rates, shares, absent, capped, eps or 0, temperature)
