"""Evaluate registered evaluation tasks with a model: prompts → model passes → per-task metrics.

Each task goes the way its catalog metric says (`TaskSpec.metric`):
- "rouge_l": greedy generation (`InferenceEngine.generate`), scored with SuperNI's exact match and
  ROUGE-L (`metrics.generation_metrics`); the paper reports ROUGE-L;
- "accuracy": rank classification over each example's answer options: the examples expand into
  one row per option (`answer_options.option_rows`, the rows of t5's `rank_classification`
  preprocessor: the prompt and " " + option, the way training joins source and target),
  `InferenceEngine.score_options` gives each option's summed log-likelihood (the prompt encoded
  once per example), and the `rank_classification` postprocessor and metric pick the best option
  per example (ties: the lowest option index; `normalize_by_target_length` divides by the
  option's token count) — the same rows and functions SeqIO runs.

Which tasks: every evaluation task in our registry (`evaluation_tasks`); the entry points
(`optiml_jax.eval`, the trainer) register the bench first (`import optiml_jax.tasks`).

Prompts longer than the model's context are left-truncated (as in training) and counted. Tasks
are evaluated in waves that fill whole batches across task boundaries; each finished task is
handed to `on_result` at once, so a caller can save it and resume later.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

from optiml_jax.constants import ACCURACY, ROUGE_L
from optiml_jax.constants import EVALUATION_SPLITS as SPLITS
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.registry import TaskSpec
from optiml_jax.data.task_reader import RenderedExample, TaskReader, default_vocabulary
from optiml_jax.evaluation import answer_options, postprocessors
from optiml_jax.evaluation import metrics as metrics_lib
from optiml_jax.evaluation.inference import InferenceEngine

GENERATION = "generation"
RANK_CLASSIFICATION = "rank_classification"
WAVE_BATCHES = 4  # Rows gathered across tasks before running the model, in batches.
TRUNCATED = "prompts left-truncated to fit the context"


@dataclasses.dataclass
class TaskResult:
    """One task's evaluation: where it sits in the bench, its metrics and how many examples."""

    task: str  # Registered name, e.g. "superni:task1344_glue_entailment_classification:5shot".
    source_name: str
    benchmark: str
    category: str
    level: str
    split: str  # "dev" or "test".
    evaluation_task: str  # The task this one is a subtask of (levels rows), else its own name.
    shots: int
    method: str  # GENERATION or RANK_CLASSIFICATION.
    metric: str  # The paper's metric for this task: "rouge_l" or "accuracy".
    score: float  # metrics[metric].
    metrics: dict[str, float]
    n: int
    skipped: dict[str, int]  # Reason → count (reader skips, demonstration shortfall, truncations).
    checkpoint: str = ""
    step: int | None = None
    variant: str = ""  # The template of a PromptSource/FLAN subtask ("" for a task evaluated whole).
    # Rank classification: the accuracy a uniform random choice among each example's options
    # would expect, in percent (a reference point for the score).
    chance: float | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> "TaskResult":
        return cls(**record)


# -- which tasks --------------------------------------------------------------------------------

def evaluation_tasks(split: str, shots: Sequence[int], pattern: str | None = None
                     ) -> tuple[list[TaskSpec], list[TaskSpec]]:
    """`(present, absent)` registered evaluation tasks of `split` ("dev"/"test") at these shot
    counts, optionally only those whose name matches the regular expression `pattern`. Reads our
    registry: register the bench first (`import optiml_jax.tasks`)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; evaluation splits are {sorted(SPLITS)}.")
    specs = registry.all_tasks()
    if not specs:
        raise ValueError("no task is registered: `import optiml_jax.tasks` registers the OPT-IML Bench.")
    wanted = set(shots)
    specs = [s for s in specs if s.split == SPLITS[split] and s.metric and s.prompt.num_shots in wanted
             and (pattern is None or re.search(pattern, s.name))]
    return [s for s in specs if s.path], [s for s in specs if not s.path]


# -- preparing requests -------------------------------------------------------------------------

@dataclasses.dataclass
class _TaskWork:
    spec: TaskSpec
    rendered: list[RenderedExample]
    skipped: dict[str, int]
    prompts: list[list[int]] = dataclasses.field(default_factory=list)  # Generation.
    option_rows: list[dict] = dataclasses.field(default_factory=list)  # Rank classification…
    score_examples: list[tuple[list[int], list[list[int]]]] = dataclasses.field(default_factory=list)  # …per example.

    @property
    def method(self) -> str:
        return RANK_CLASSIFICATION if self.spec.metric == ACCURACY else GENERATION

    @property
    def num_rows(self) -> int:
        return len(self.prompts) + len(self.score_examples)


def _count(skipped: dict[str, int], reason: str, count: int) -> None:
    if count:
        skipped[reason] = skipped.get(reason, 0) + count


def _prepare(spec: TaskSpec, engine: InferenceEngine, store: ExampleStore, max_examples: int | None) -> _TaskWork:
    if spec.metric not in (ROUGE_L, ACCURACY):
        raise ValueError(f"task {spec.name}: no evaluation metric (is it an evaluation task?).")
    reader = TaskReader(spec, store)
    count = len(reader) if max_examples is None else min(max_examples, len(reader))
    work = _TaskWork(spec, reader.render(range(count)), dict(reader.skipped))
    vocabulary = default_vocabulary()
    if work.method == GENERATION:
        prompts = vocabulary.encode_batch([r.source for r in work.rendered])
        limit = engine.max_prompt_tokens
        _count(work.skipped, TRUNCATED, sum(len(p) > limit for p in prompts))
        work.prompts = [p[-limit:] for p in prompts]
        return work

    answer_options.check_options(spec, work.rendered)
    work.option_rows = answer_options.option_rows(work.rendered, range(count))
    # Targets tokenized as SeqIO's `tokenize` + `append_eos_after_trim` would: the postprocessor
    # reads the target length (for length normalisation) from them. A row's inputs are its
    # example's prompt, so each prompt is tokenized once, not once per option.
    prompts = vocabulary.encode_batch([r.source for r in work.rendered])
    targets = vocabulary.encode_batch([row["targets"] for row in work.option_rows])
    for row, target in zip(work.option_rows, targets):
        row["targets"] = target + [engine.eos_id]
    truncated = 0
    for example, group in itertools.groupby(work.option_rows, key=lambda row: int(row["idx"][0])):
        options = [row["targets"] for row in group]  # One example's options, in option order.
        keep = engine.max_length - max(len(option) for option in options)
        if keep <= 0:
            raise ValueError(f"task {spec.name}: an option of example {example} alone has "
                             f"{max(len(o) for o in options)} tokens, more than the model's "
                             f"{engine.max_length} positions.")
        truncated += len(prompts[example]) > keep
        work.score_examples.append((prompts[example][-keep:], options))
    _count(work.skipped, TRUNCATED, truncated)
    return work


# -- finishing a task ---------------------------------------------------------------------------

def _split_name(spec: TaskSpec) -> str:
    return next(name for name, registered in SPLITS.items() if registered == spec.split)


def _finish(work: _TaskWork, outputs: Any, normalize_by_target_length: bool) -> tuple[TaskResult, list[dict]]:
    spec = work.spec
    chance = None
    if work.method == GENERATION:
        predictions = [postprocessors.references(default_vocabulary().decode(tokens)) for tokens in outputs]
        references = [list(r.references) for r in work.rendered]
        values = metrics_lib.generation_metrics(references, predictions)
        records = [{"id": r.id, "prediction": p, "references": refs}
                   for r, p, refs in zip(work.rendered, predictions, references)]
    else:
        targets = [postprocessors.rank_classification(None, example=row, is_target=True) for row in work.option_rows]
        scores = [float(s) for s in outputs]
        values = metrics_lib.rank_classification(targets, scores, normalize_by_target_length=normalize_by_target_length)
        chance = 100.0 * sum(len(set(r.references) & set(r.options)) / len(r.options)
                             for r in work.rendered) / len(work.rendered)
        records = []
        for (_, options, option_scores, chosen), rendered in zip(
                metrics_lib.option_predictions(targets, scores, normalize_by_target_length), work.rendered):
            records.append({"id": rendered.id, "options": list(rendered.options), "scores": option_scores.tolist(),
                            "chosen": chosen, "correct": bool(options[chosen][1])})
    result = TaskResult(
        task=spec.name, source_name=spec.source_name, benchmark=spec.benchmark, category=spec.category,
        level=spec.level, split=_split_name(spec), evaluation_task=spec.evaluation_task, shots=spec.prompt.num_shots,
        method=work.method, metric=spec.metric, score=values[spec.metric], metrics=values,
        n=len(work.rendered), skipped=work.skipped, variant=spec.variant, chance=chance)
    return result, records


# -- the loop -----------------------------------------------------------------------------------

def _waves(specs: Iterable[TaskSpec], prepare: Callable[[TaskSpec], _TaskWork], rows_per_wave: int):
    wave, rows = [], 0
    for spec in specs:
        work = prepare(spec)
        wave.append(work)
        rows += work.num_rows
        if rows >= rows_per_wave:
            yield wave
            wave, rows = [], 0
    if wave:
        yield wave


def evaluate_tasks(engine: InferenceEngine, params: Any, specs: Sequence[TaskSpec], *,
                   max_examples_per_task: int | None = None, normalize_by_target_length: bool = False,
                   on_result: Callable[[TaskResult, list[dict]], None] | None = None,
                   store: ExampleStore | None = None, progress: bool = True) -> list[TaskResult]:
    """Evaluates each task; returns its `TaskResult`s in order and hands each finished one, with
    its per-example predictions, to `on_result`."""
    store = store or ExampleStore()
    results = []
    bar = tqdm(total=len(specs), unit="task", dynamic_ncols=True, disable=not progress)
    prepare = lambda spec: _prepare(spec, engine, store, max_examples_per_task)  # noqa: E731
    for wave in _waves(specs, prepare, WAVE_BATCHES * engine.batch_size):
        generated = engine.generate(params, [p for work in wave for p in work.prompts])
        option_scores = engine.score_options(params, [example for work in wave for example in work.score_examples])
        for work in wave:
            if work.method == GENERATION:
                outputs, generated = generated[:len(work.prompts)], generated[len(work.prompts):]
            else:
                count = len(work.score_examples)
                outputs = [score for scores in option_scores[:count] for score in scores]  # Option rows' order.
                option_scores = option_scores[count:]
            result, records = _finish(work, outputs, normalize_by_target_length)
            results.append(result)
            if on_result is not None:
                on_result(result, records)
            bar.set_postfix_str(f"{result.task} {result.metric}={result.score:.1f}", refresh=False)
            bar.update(1)
    bar.close()
    return results
