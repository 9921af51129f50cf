"""A registered task's examples as prompt text and token ids: the one path both consumers share.

The SeqIO tasks (`optiml_jax.data.seqio_tasks`) and the packed stream (`optiml_jax.data.pipeline`)
both go through `TaskReader.render` and `encode_source_target`, so the same example always has
the same prompt text and the same tokens.
"""

from __future__ import annotations

import functools
import logging
from typing import Sequence

from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.prompting import render_example, shortfall
from optiml_jax.data.registry import TaskSpec
from optiml_jax.vocab import OPTVocabulary

DEMONSTRATION_SHORTFALL = "evaluation demonstrations missing (task ships fewer positive examples)"


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
        examples = store.open(spec.reader, spec.source_name, spec.path)
        if spec.max_examples is not None:
            examples = examples.head(spec.max_examples)
        if len(examples) == 0:
            raise DataFormatError(spec.path, "Instances", f"no usable instances (skipped: {examples.skipped or 'none'})")
        self.spec = spec
        self.examples = examples
        self.skipped = dict(examples.skipped)
        missing = shortfall(spec.prompt, len(examples.demonstrations))
        if missing:
            self.skipped[DEMONSTRATION_SHORTFALL] = missing
        if self.skipped:
            logging.warning("task %s (%s): %s", spec.name, spec.path, self.skipped)

    def __len__(self) -> int:
        return len(self.examples)

    def render(self, indices: Sequence[int]) -> list[tuple[str, str, tuple[str, ...]]]:
        """(source, target, all references) for each example index."""
        rendered = []
        for index, example in zip(indices, self.examples.read(indices)):
            source, target = render_example(
                self.spec.source_name,
                self.examples.instruction,
                self.examples.demonstrations,
                example,
                index,
                len(self.examples),
                self.spec.prompt,
                self.examples.read,
            )
            rendered.append((source, target, example.targets))
        return rendered


def encode_source_target(vocabulary: OPTVocabulary, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """Token ids of each source and of " " + target, encoded separately so the loss boundary is exact."""
    sources = vocabulary.encode_batch([source for source, _ in pairs])
    targets = vocabulary.encode_batch([" " + target if target else "" for _, target in pairs])
    return list(zip(sources, targets))
