"""A registered task's examples as prompt text and token ids: the one path both consumers share.

The SeqIO tasks (`optiml_jax.data.seqio_tasks`) and the packed stream (`optiml_jax.data.pipeline`)
both go through `TaskReader.render` and `encode_source_target`, so the same example always has
the same prompt text and the same tokens.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple, Sequence

from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.prompting import draw_demonstrations, render_example, shortfall
from optiml_jax.data.registry import TaskSpec
from optiml_jax.vocab import OPTVocabulary

DEMONSTRATION_SHORTFALL = "evaluation demonstrations missing (task ships fewer positive examples)"


class RenderedExample(NamedTuple):
    id: str
    source: str  # The prompt.
    target: str  # The reference trained on (drawn per example).
    references: tuple[str, ...]  # Every reference (evaluation).
    options: tuple[str, ...] | None  # Answer candidates (rank classification), if the task has them.


@functools.lru_cache(maxsize=None)
def default_vocabulary() -> OPTVocabulary:
    """The OPT vocabulary from the configured tokenizer folder (see optiml_jax.vocab)."""
    return OPTVocabulary()


class TaskReader:
    """Opens a task through the example store and renders its examples as (source, target) text."""

    def __init__(self, spec: TaskSpec, store: ExampleStore):
        if spec.path is None:
            raise FileNotFoundError(
                f"task {spec.name}: the data file of {spec.benchmark} task {spec.source_name!r} is not present "
                f"locally; docs/benchmark.md says how to download the full data."
            )
        everything = store.open(spec.reader, spec.source_name, spec.path)
        examples = everything if spec.max_examples is None else everything.head(spec.max_examples)
        if len(examples) == 0:
            raise DataFormatError(spec.path, "Instances", f"no usable instances (skipped: {examples.skipped or 'none'})")
        self.spec = spec
        self.examples = examples
        self.demonstrations = examples.demonstrations
        if spec.prompt.num_shots and not self.demonstrations:
            # Demonstrations come from the instances that are not evaluated (after the first N).
            first = len(examples)
            self.demonstrations = draw_demonstrations(
                spec.source_name, spec.prompt.seed, len(everything) - first, spec.prompt.num_shots,
                lambda indices: everything.read([first + i for i in indices]))
        self.skipped = dict(examples.skipped)
        missing = shortfall(spec.prompt, len(self.demonstrations))
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
            )
            rendered.append(RenderedExample(example.id, source, target, example.targets, example.options))
        return rendered


def encode_source_target(vocabulary: OPTVocabulary, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """Token ids of each source and of " " + target, encoded separately so the loss boundary is exact."""
    sources = vocabulary.encode_batch([source for source, _ in pairs])
    targets = vocabulary.encode_batch([" " + target if target else "" for _, target in pairs])
    return list(zip(sources, targets))
