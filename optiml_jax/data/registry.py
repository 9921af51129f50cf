"""Our registry of tasks and mixtures: what the packed stream and the SeqIO registration read.

A `TaskSpec` says where one task's data is and how it becomes prompts; a `MixtureSpec` holds
numeric sampling rates. `optiml_jax.tasks` fills this registry from the OPT-IML Bench catalog;
the SeqIO adapter (`optiml_jax.seqio_tasks`) mirrors its entries into SeqIO, so both paths read
the same definitions. Adding the same name twice is allowed only with an identical spec (re-imports are
idempotent); a different spec under a taken name raises.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from optiml_jax.data.examples import UnknownNameError
from optiml_jax.data.prompting import PromptConfig

# SeqIO's name rule: letters, digits, '.', ':', '_', '#'.
_NAME_PATTERN = re.compile(r"^[\w\d\.\:_#]+$")


EVALUATION_PART, TRAINING_PART = "evaluation", "training"


@dataclasses.dataclass(frozen=True)
class HeldOutInstances:
    """A seeded cut of a task's rows held out of training, for a fully supervised task whose data
    has no separate evaluation split here: a row is held out when a 64-bit hash of its id, mixed
    with the task name and `seed`, falls in the lowest `fraction` of the range. The cut is by row,
    so all templates of a held-out row are held out; it does not depend on the other rows present.
    `part` says which side a spec reads."""

    part: str  # EVALUATION_PART or TRAINING_PART
    fraction: float = 0.1
    seed: int = 0

    def __post_init__(self):
        if self.part not in (EVALUATION_PART, TRAINING_PART) or not 0 < self.fraction < 1:
            raise ValueError(f"HeldOutInstances: part {self.part!r}, fraction {self.fraction} (part is "
                             f"{EVALUATION_PART!r} or {TRAINING_PART!r}, 0 < fraction < 1).")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One registered task: a catalog task in one split with one prompt configuration."""

    name: str  # Registry (and SeqIO) name.
    source_name: str  # The task's own name in its benchmark, e.g. the SuperNI file stem.
    benchmark: str
    category: str
    split: str  # "train", "validation" or "test".
    level: str  # Generalization level of an evaluation task; "" for training tasks.
    reader: str  # Key of optiml_jax.data.formats.READERS.
    path: str | None  # The data file, or None when it is not present locally.
    num_examples: int  # The catalog's example count (full data), used for mixing rates.
    max_examples: int | None = None  # Evaluation reads only a task's first N examples.
    # Training reads at most this many of the task's examples, a seeded random subset (§2.1's
    # per-task cap, `optiml_jax.data.mixing.task_cap`).
    train_cap: int | None = None
    prompt: PromptConfig = PromptConfig()
    # Keyword arguments of the reader (hashable pairs), e.g. a templates file and one template.
    reader_args: tuple[tuple[str, object], ...] = ()
    holdout: HeldOutInstances | None = None  # Which side of a held-out cut this spec reads.
    # An evaluation subtask's variant, e.g. the PromptSource or FLAN template it renders with.
    variant: str = ""
    # Evaluation tasks only: "rouge_l" (generation) or "accuracy" (rank classification over the
    # examples' options), and the evaluation task this one is a subtask of (levels rows, e.g.
    # "Bard Analogical Reasoning"; the task's own name when it stands alone).
    metric: str = ""
    evaluation_task: str = ""

    def __post_init__(self):
        if not _NAME_PATTERN.match(self.name):
            raise ValueError(f"TaskSpec: {self.name!r} is not a valid SeqIO name (letters, digits, '.', ':', '_', '#').")


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    """Tasks and their sampling rates (plain numbers summing to 1), sorted by task name."""

    name: str
    rates: tuple[tuple[str, float], ...]
    description: str = ""


_TASKS: dict[str, TaskSpec] = {}
_MIXTURES: dict[str, MixtureSpec] = {}


def _add(table: dict, spec) -> None:
    existing = table.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"registry: {spec.name!r} is already registered with a different definition.")
    table[spec.name] = spec


def add_task(spec: TaskSpec) -> None:
    _add(_TASKS, spec)


def add_mixture(spec: MixtureSpec) -> None:
    unknown = [name for name, _ in spec.rates if name not in _TASKS]
    if unknown:
        raise UnknownNameError(f"mixture {spec.name!r}: unknown task(s) {unknown[:5]}{_suggest(unknown[0], _TASKS)}")
    _add(_MIXTURES, spec)


def _suggest(name: str, table: dict) -> str:
    close = difflib.get_close_matches(name, list(table), n=3)
    return f"; did you mean {close}?" if close else ""


def get_task(name: str) -> TaskSpec:
    if name not in _TASKS:
        raise UnknownNameError(f"unknown task {name!r}{_suggest(name, _TASKS)} (did you import optiml_jax.tasks?)")
    return _TASKS[name]


def get_mixture(name: str) -> MixtureSpec:
    if name not in _MIXTURES:
        raise UnknownNameError(f"unknown mixture {name!r}{_suggest(name, _MIXTURES)} (did you import optiml_jax.tasks?)")
    return _MIXTURES[name]


def all_tasks() -> list[TaskSpec]:
    """Every registered task, in registration order."""
    return list(_TASKS.values())
