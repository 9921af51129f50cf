"""Answer options as rank-classification rows: the one rule both evaluators score options by.

Each option follows the example's prompt as " " + option (training joins source and target with
one space), and an option is correct when it equals one of the example's references.
`option_rows` expands examples into one row per option with the features of the `t5` package's
`rank_classification` preprocessor (`idx = (example, option)`, `inputs`, `targets`, `is_correct`),
in plain Python, for our evaluator (`runner`); the SeqIO tasks (`optiml_jax.seqio_tasks`) carry
`option_targets` / `option_is_correct` computed here into the TF version of that preprocessor
(`optiml_jax.seqio_preprocessors`), so `seqio.Evaluator` scores the very same rows.
"""

from __future__ import annotations

from typing import Sequence

from optiml_jax.data.registry import TaskSpec
from optiml_jax.data.task_reader import RenderedExample


def option_targets(options: Sequence[str], references: Sequence[str]) -> list[tuple[str, bool]]:
    """`(target text, is_correct)` of each option, in option order (the module docstring's rule)."""
    correct = set(references)
    return [(" " + option, option in correct) for option in options]


def option_rows(rendered: Sequence[RenderedExample], indices: Sequence[int]) -> list[dict]:
    """One row per option of each example; `idx[0]` is the example's entry in `indices`."""
    rows = []
    for index, example in zip(indices, rendered):
        for option, (target, is_correct) in enumerate(option_targets(example.options, example.references)):
            rows.append({"idx": (int(index), option), "inputs": example.source, "targets": target,
                         "is_correct": is_correct})
    return rows


def check_options(spec: TaskSpec, rendered: Sequence[RenderedExample]) -> None:
    """Raises unless every example has options and at least one of them is a reference."""
    missing = [r.id for r in rendered if not r.options]
    if missing:
        raise ValueError(f"task {spec.name} ({spec.path}): its metric is accuracy (rank classification), but "
                         f"{len(missing)} of {len(rendered)} examples have no answer options, e.g. {missing[:3]}.")
    unanswerable = [r.id for r in rendered if not set(r.references) & set(r.options)]
    if unanswerable:
        raise ValueError(f"task {spec.name} ({spec.path}): no reference is among the answer options of "
                         f"{len(unanswerable)} example(s), e.g. {unanswerable[:3]}.")
