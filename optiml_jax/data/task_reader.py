"""A registered task's examples as prompt text and token ids: the one path both consumers share.

The packed stream (`optiml_jax.data.pipeline`), the evaluator (`optiml_jax.evaluation.runner`)
and the SeqIO tasks (`optiml_jax.seqio_tasks`) all go through `TaskReader.render` and
`encode_source_target`, so the same example always has the same prompt text and the same tokens.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple, Sequence

import numpy as np

from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.prompting import draw_demonstrations, render_example, shortfall, stable_task_hash
from optiml_jax.data.registry import EVALUATION_PART, HeldOutInstances, TaskSpec
from optiml_jax.data.tokenizer import OPTTokenizer

DEMONSTRATION_SHORTFALL = "evaluation demonstrations missing (task ships fewer positive examples)"


class RenderedExample(NamedTuple):
    id: str
    source: str  # The prompt.
    target: str  # The reference trained on (drawn per example).
    references: tuple[str, ...]  # Every reference (evaluation).
    options: tuple[str, ...] | None  # Answer candidates (rank classification), if the task has them.


@functools.lru_cache(maxsize=None)
def default_vocabulary() -> OPTTokenizer:
    """The OPT tokenizer from the configured tokenizer folder (see optiml_jax.data.tokenizer)."""
    return OPTTokenizer()


def held_out_mask(row_hashes: np.ndarray, task_name: str, holdout: HeldOutInstances) -> np.ndarray:
    """True for the examples whose row falls in the held-out cut (`HeldOutInstances`)."""
    key = np.uint64(stable_task_hash(f"{task_name}|{holdout.seed}"))
    mixed = row_hashes.astype(np.uint64) ^ key
    # splitmix64's finaliser spreads the mixed bits over the whole 64-bit range.
    with np.errstate(over="ignore"):
        mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed = mixed ^ (mixed >> np.uint64(31))
    return mixed < np.uint64(int(holdout.fraction * 2.0**64))


class TaskReader:
    """Opens a task through the example store and renders its examples as (source, target) text.

    The examples a spec reads: every example of its data, or one side of its held-out cut
    (`spec.holdout`), then the first `spec.max_examples` of those (evaluation).
    """

    def __init__(self, spec: TaskSpec, store: ExampleStore):
        if spec.path is None:
            raise FileNotFoundError(
                f"task {spec.name}: the data file of {spec.benchmark} task {spec.source_name!r} is not present "
                f"locally; docs/benchmark.md says how to download the full data."
            )
        everything = store.open(spec.reader, spec.source_name, spec.path, spec.reader_args)
        if spec.holdout is not None:
            held_out = held_out_mask(everything.row_hashes, spec.source_name, spec.holdout)
            everything = everything.select(np.flatnonzero(held_out if spec.holdout.part == EVALUATION_PART else ~held_out))
        if spec.train_cap is not None and len(everything) > spec.train_cap:
            # §2.1's cap "at random": a subset drawn once per task, the same on every host and run.
            rng = np.random.default_rng([spec.prompt.seed, stable_task_hash(spec.source_name)])
            everything = everything.select(np.sort(rng.choice(len(everything), spec.train_cap, replace=False)))
        examples = everything if spec.max_examples is None else everything.head(spec.max_examples)
        if len(examples) == 0:
            raise DataFormatError(spec.path, "(examples)", f"task {spec.name} has no usable examples "
                                  f"(skipped: {examples.skipped or 'none'})")
        self.spec = spec
        self.examples = examples
        self.skipped = dict(examples.skipped)
        # Evaluation demonstrations: the task's own (SuperNI's positive examples), else k of its
        # instances that are not evaluated, drawn once; when fewer than k are left over, each
        # example draws k of the task's other examples (docs/evaluation.md).
        self.demonstrations: tuple | None = examples.demonstrations
        if spec.prompt.num_shots and not self.demonstrations:
            first, pool = len(examples), len(everything) - len(examples)
            if pool >= spec.prompt.num_shots:
                self.demonstrations = draw_demonstrations(
                    spec.source_name, spec.prompt.seed, pool, spec.prompt.num_shots,
                    lambda indices: everything.read([first + i for i in indices]))
            else:
                self.demonstrations = None
        available = len(examples) - 1 if self.demonstrations is None else len(self.demonstrations)
        missing = shortfall(spec.prompt, available)
        if missing:
            self.skipped[DEMONSTRATION_SHORTFALL] = missing
        if self.skipped:
            logging.warning("task %s (%s): %s", spec.name, spec.path, self.skipped)

    def __len__(self) -> int:
        return len(self.examples)

    def render(self, indices: Sequence[int]) -> list[RenderedExample]:
        """Prompt, trained-on reference, all references and options of each example index."""
        rendered = []
        for index, example in zip(indices, self.examples.read(indices)):
            source, target = render_example(
                self.spec.source_name,
                self.examples.instruction,
                self.demonstrations,
                example,
                index,
                len(self.examples),
                self.spec.prompt,
                self.examples.read,
                self.examples.layout,
            )
            rendered.append(RenderedExample(example.id, source, target, example.targets, example.options))
        return rendered


def encode_source_target(vocabulary: OPTTokenizer, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """Token ids of each source and of " " + target, encoded separately so the loss boundary is exact."""
    sources = vocabulary.encode_batch([source for source, _ in pairs])
    targets = vocabulary.encode_batch([" " + target if target else "" for _, target in pairs])
    return list(zip(sources, targets))
