"""Instruction + input + output delimiter (+ k demonstrations) → (source text, target text).

This is the only prompt formatter; the SeqIO tasks and the packed stream both call
`render_example`, so both paths see the same text for the same example.

Layouts (paper §2.4, App. C, Table 6), chosen by the reader of each benchmark (`TaskData.layout`):

    "superni" (task instruction):           "instruction" (Reasoning, keyword tasks):
    {instruction}                           {instruction}
    Input: {demo input}{delimiter} {demo output}   {demo input}{delimiter} {demo output}
    Input: {input}{delimiter}               {input}{delimiter}

    "instance" (PromptSource, FLAN: the input is a template-rendered prompt; demonstrations come
    before the example, §2.4):              "text" (dialogue, pre-training text):
    {demo prompt}{delimiter} {demo output}  (empty source; the whole text is the target, Table 6)
    {prompt}{delimiter}

Each demonstration block is followed by the separator "\\n\\n\\n"; the target is the chosen reference. The delimiter is drawn per example from the paper's 8
delimiters (footnote 5; its last, "\\output:", is read as "\\noutput:"), and is left out when the
text before it already ends with ":" ("if the instructions do not end with a ':'"). The packer
joins source and target with one space and ends the target with EOS.

Every random choice for an example (delimiter, which reference trains, MetaICL's k and
demonstrations) comes from a generator seeded by (prompt seed, task name, example index), so an
example renders the same way in every run, on every host, through either path.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Callable, Sequence

import numpy as np

from optiml_jax.data.examples import Demonstration, Example

SUPERNI, INSTRUCTION, INSTANCE, TEXT = "superni", "instruction", "instance", "text"
LAYOUTS = (SUPERNI, INSTRUCTION, INSTANCE, TEXT)
DELIMITERS = ("\nAnswer:", " Answer:", "\nA:", " A:", "\nOutput:", " Output:", "\nanswer:", "\noutput:")
DEMONSTRATION_SEPARATOR = "\n\n\n"  # MetaICL's [SEP], "three consecutive newline tokens" (§4.8).
EVALUATION_SHOTS = (0, 2, 5)  # SuperNI evaluation (Table 12).


@dataclasses.dataclass(frozen=True)
class MetaICL:
    """Training-time demonstrations (§4.8): k ~ Zipf(a) − 1, capped at `max_shots`.

    P(k = 0) = 1/ζ(a): 92.4% for a = 4 (the paper says 92.5%) and 60.8% for a = 2 (the paper says
    67.1%; its exact mapping from Zipf draws to k is not given).
    """

    zipf_a: float = 4.0
    max_shots: int = 5


@dataclasses.dataclass(frozen=True)
class PromptConfig:
    """How a task's examples become prompts.

    `num_shots`: evaluation demonstrations, the task's first k positive examples (SuperNI); a
    task that ships none draws k of its instances that are not evaluated (`draw_demonstrations`);
    fewer when there are fewer (`shortfall` says so). `metaicl`: training demonstrations drawn from the
    task's other examples; None (the default, as in the final OPT-IML models) for none.
    """

    seed: int = 0
    num_shots: int = 0
    metaicl: MetaICL | None = None

    def __post_init__(self):
        if self.num_shots and self.metaicl:
            raise ValueError("PromptConfig: num_shots (evaluation) and metaicl (training) exclude each other.")


def stable_task_hash(name: str) -> int:
    """A 63-bit integer from a task name that is the same on every machine and run."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def example_rng(seed: int, task_name: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stable_task_hash(task_name), index])


def _block(text: str, delimiter: str) -> str:
    text = text.strip()
    return text if text.endswith(":") else text + delimiter


def format_source(instruction: str, query: str, delimiter: str, demonstrations: Sequence[Demonstration] = (),
                  layout: str = SUPERNI) -> str:
    """The prompt text of one example in `layout` (see the module docstring)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown prompt layout {layout!r}; layouts are {LAYOUTS}.")
    if layout == TEXT:
        return ""
    prefix = "Input: " if layout == SUPERNI else ""
    shown = [f"{prefix}{_block(d.input, delimiter)} {d.output.strip()}" for d in demonstrations]
    body = DEMONSTRATION_SEPARATOR.join(shown + [f"{prefix}{_block(query, delimiter)}"])
    return body if layout == INSTANCE else f"{instruction.strip()}\n{body}"


def draw_demonstrations(task_name: str, seed: int, pool_size: int, num_shots: int,
                        fetch_examples: Callable[[Sequence[int]], list[Example]]) -> tuple[Demonstration, ...]:
    """Evaluation demonstrations for a task that ships none: `num_shots` of its `pool_size`
    non-evaluated instances (indices into that pool), drawn once per task with a generator seeded
    by (prompt seed, task name), so every example of the task shows the same ones on every host.
    Each shows the instance's first reference."""
    rng = np.random.default_rng([seed, stable_task_hash(task_name)])
    chosen = rng.choice(pool_size, size=min(num_shots, pool_size), replace=False)
    return tuple(Demonstration(e.input, e.targets[0]) for e in fetch_examples([int(i) for i in chosen]))


def shortfall(config: PromptConfig, available_demonstrations: int) -> int:
    """How many evaluation demonstrations are missing for this task (0 when it ships enough)."""
    return max(0, config.num_shots - available_demonstrations)


def _other_examples(rng: np.random.Generator, index: int, num_examples: int, count: int,
                    fetch_examples: Callable[[Sequence[int]], list[Example]]) -> list[Demonstration]:
    """`count` distinct examples other than `index`, each shown with its first reference."""
    if count <= 0:
        return []
    others = rng.choice(num_examples - 1, size=count, replace=False)
    others = [int(i) + (i >= index) for i in others]  # Skip the example itself.
    return [Demonstration(e.input, e.targets[0]) for e in fetch_examples(others)]


def render_example(
    task_name: str,
    instruction: str,
    demonstrations: Sequence[Demonstration] | None,
    example: Example,
    index: int,
    num_examples: int,
    config: PromptConfig,
    fetch_examples: Callable[[Sequence[int]], list[Example]],
    layout: str = SUPERNI,
) -> tuple[str, str]:
    """The (source, target) text of example `index` of a task with `num_examples` examples.

    `demonstrations`: the evaluation demonstrations every example shows (the first
    `config.num_shots`), or None to draw them per example from the task's other examples (for
    tasks whose every instance is evaluated; docs/evaluation.md). `fetch_examples(indices)` returns
    other examples of the same task, for those draws and for MetaICL.
    """
    rng = example_rng(config.seed, task_name, index)
    delimiter = DELIMITERS[int(rng.integers(len(DELIMITERS)))]
    target = example.targets[int(rng.integers(len(example.targets)))]
    if demonstrations is None:
        shown: Sequence[Demonstration] = _other_examples(rng, index, num_examples,
                                                         min(config.num_shots, num_examples - 1), fetch_examples)
    else:
        shown = demonstrations[: config.num_shots]
    if config.metaicl is not None:
        k = min(int(rng.zipf(config.metaicl.zipf_a)) - 1, config.metaicl.max_shots, num_examples - 1)
        if k > 0:
            shown = _other_examples(rng, index, num_examples, k, fetch_examples)
    source = format_source(instruction, example.input, delimiter, shown, layout).rstrip(" ")
    return source, target.rstrip()
