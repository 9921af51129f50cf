"""Register benchmark catalogs in our registry (`optiml_jax.data.registry`): one task per catalog
task (and per evaluation shot count) and the mixtures. Fast at 2,000 tasks: no data file is opened
here. SeqIO sees them through the adapter, `optiml_jax.seqio_tasks.register_in_seqio(report.tasks,
report.mixtures)` (importing that module does it for the bench).

Names (`{benchmark}:{task}` with "/" written "." and "-" written "_", SeqIO's name rule):
- `superni:task190_snli_classification`: every catalog task, split "train": its training data
  (a fully supervised task's training instances: its evaluation instances are held out);
- `superni:task190_snli_classification:5shot`: a dev/test task's evaluation instances with k
  demonstrations, split "validation" (dev) or "test", for k in 0, 2, 5;
- `promptsource:super_glue.copa:exercise:5shot`: one evaluation subtask (a template) of a task
  evaluated with several; the report averages a task's subtasks (§4.1).

Mixtures (`{ns}` is `opt_iml` for the bench):
- `{ns}_train`: OPT-IML's training mixture (split "train"), rates from `optiml_jax.data.mixing`;
- `{ns}_max_train`: every task (OPT-IML-Max trains on all tasks, §6.1), same rates rule;
- `{ns}_{benchmark}_train`: one benchmark's training tasks;
- `{ns}_{split}_{level}_{k}shot` and `{ns}_{benchmark}_{split}_{level}_{k}shot`: evaluation
  tasks of one level (equal rates; evaluation reads every task in full).
A benchmark outside the default mixtures (dialogue) trains only in its own mixture and in the
ones `register_ablation_mixture` adds. A mixture lists only tasks whose data is present locally;
the report counts those left out, and a mixture with no present task is not registered (the
report names it).
"""

from __future__ import annotations

import collections
import dataclasses

from optiml_jax.constants import ACCURACY, EVALUATION_SPLITS, FULLY_SUPERVISED, LEVELS
from optiml_jax.data import registry
from optiml_jax.data.mixing import (DEFAULT_EPS, PAPER_BENCHMARK_PROPORTIONS, MixingRates, compute_mixing_rates,
                                    task_cap)
from optiml_jax.data.prompting import EVALUATION_SHOTS, PromptConfig
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, TaskInputs, Variant
from optiml_jax.tasks.levels import evaluation_row



@dataclasses.dataclass
class RegistrationReport:
    namespace: str
    tasks: list[str] = dataclasses.field(default_factory=list)
    mixtures: list[str] = dataclasses.field(default_factory=list)
    empty_mixtures: list[str] = dataclasses.field(default_factory=list)
    absent: dict[str, int] = dataclasses.field(default_factory=dict)  # benchmark → catalog tasks without data.
    present: dict[str, int] = dataclasses.field(default_factory=dict)  # benchmark → catalog tasks with data.
    mixing: dict[str, MixingRates] = dataclasses.field(default_factory=dict)  # training mixtures' rates.
    # Evaluation subtasks left out, with why (e.g. a template without answer choices for a
    # rank-classification task): "benchmark:task:variant" → (split, reason).
    excluded_variants: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    # Training tasks per mixture (name → {task: (benchmark, count)}), for ablation mixtures.
    training: dict[str, dict] = dataclasses.field(default_factory=dict)


def registry_name(name: str) -> str:
    return name.replace("/", ".").replace("-", "_")


def task_name(entry: CatalogEntry, shots: int | None = None, variant: str = "") -> str:
    base = f"{entry.benchmark}:{registry_name(entry.name)}"
    if variant:
        base += f":{registry_name(variant)}"
    return base if shots is None else f"{base}:{shots}shot"


def _held_out_cut(entry: CatalogEntry, inputs: TaskInputs, part: str) -> registry.HeldOutInstances | None:
    """A fully supervised task evaluated on the very data it trains on gets a held-out cut."""
    if entry.level == FULLY_SUPERVISED and inputs.train is not None and inputs.train == inputs.evaluation:
        return registry.HeldOutInstances(part)
    return None


def _specs(catalog: BenchmarkCatalog, entry: CatalogEntry, inputs: TaskInputs,
           report: RegistrationReport) -> list[registry.TaskSpec]:
    common = dict(source_name=entry.name, benchmark=entry.benchmark, category=entry.category,
                  num_examples=entry.num_examples)
    train = inputs.train
    specs = [registry.TaskSpec(name=task_name(entry), split="train", level="",
                               reader=train.reader if train else inputs.evaluation.reader if inputs.evaluation else "",
                               path=train.path if train else None, reader_args=train.args if train else (),
                               holdout=_held_out_cut(entry, inputs, registry.TRAINING_PART),
                               train_cap=task_cap(entry.benchmark), **common)]
    if entry.split not in EVALUATION_SPLITS:
        return specs
    row = evaluation_row(entry.benchmark, entry.name)
    metric = row.metric if row else catalog.task_metrics.get(entry.name, catalog.evaluation_metric)
    evaluation = inputs.evaluation
    variants = []
    # Without local evaluation data a task still registers (absent), so reports list it as missing.
    for variant in inputs.variants or (() if evaluation else (Variant(),)):
        if metric == ACCURACY and not variant.has_options:
            report.excluded_variants[f"{entry.benchmark}:{entry.name}:{variant.name}"] = (
                entry.split, "no answer choices, so it cannot be scored by rank classification")
        else:
            variants.append(variant)
    for variant, reason in inputs.excluded:
        report.excluded_variants[f"{entry.benchmark}:{entry.name}:{variant}"] = (entry.split, reason)
    cap = catalog.evaluation_instances(entry, len(variants))
    for variant in variants:
        args = (evaluation.args if evaluation else ()) + variant.args
        specs += [
            registry.TaskSpec(name=task_name(entry, shots, variant.name), split=EVALUATION_SPLITS[entry.split],
                              level=entry.level, reader=evaluation.reader if evaluation else specs[0].reader,
                              path=evaluation.path if evaluation else None, reader_args=args,
                              holdout=_held_out_cut(entry, inputs, registry.EVALUATION_PART), max_examples=cap,
                              prompt=PromptConfig(num_shots=shots), metric=metric,
                              evaluation_task=row.name if row else entry.name, variant=variant.name, **common)
            for shots in EVALUATION_SHOTS
        ]
    return specs


def _add_training_mixtures(training: dict, report: RegistrationReport, *, proportions, **rates_settings) -> None:
    for name, tasks in sorted(training.items()):
        # One benchmark's own mixture needs no benchmark proportions (it may have none: dialogue).
        single = len({benchmark for benchmark, _ in tasks.values()}) == 1
        rates = compute_mixing_rates(tasks, proportions=None if single else proportions, **rates_settings)
        report.mixing[name] = rates
        report.training[name] = dict(tasks)
        registry.add_mixture(registry.MixtureSpec(name, tuple(sorted(rates.rates.items())), rates.describe()))
        report.mixtures.append(name)


def register_catalogs(
    catalogs: list[BenchmarkCatalog],
    *,
    namespace: str = "opt_iml",
    eps: int | None = DEFAULT_EPS,
    temperature: float = 1.0,
    proportions=PAPER_BENCHMARK_PROPORTIONS,
) -> RegistrationReport:
    """Registers every catalog task and the mixtures of the module docstring (idempotent)."""
    report = RegistrationReport(namespace)
    training = collections.defaultdict(dict)  # mixture → {task: (benchmark, count)}
    evaluation = collections.defaultdict(list)  # mixture → [task]
    for catalog in catalogs:
        for entry in catalog.entries:
            inputs = catalog.inputs(entry)
            specs = _specs(catalog, entry, inputs, report)
            for spec in specs:
                registry.add_task(spec)
                report.tasks.append(spec.name)
            present = inputs.train is not None or inputs.evaluation is not None
            counts = report.present if present else report.absent
            counts[entry.benchmark] = counts.get(entry.benchmark, 0) + 1
            # A task whose dataset has no training split (num_examples 0) only evaluates.
            if inputs.train is not None and entry.num_examples > 0:
                name, weight = task_name(entry), (entry.benchmark, min(entry.num_examples, task_cap(entry.benchmark)))
                if catalog.in_default_mixtures and entry.split != "removed":
                    training[f"{namespace}_max_train"][name] = weight
                if entry.trains:
                    if catalog.in_default_mixtures:
                        training[f"{namespace}_train"][name] = weight
                    training[f"{namespace}_{entry.benchmark}_train"][name] = weight
            for spec in specs:
                if spec.split != "train" and spec.path is not None:
                    for prefix in (namespace, f"{namespace}_{entry.benchmark}"):
                        evaluation[f"{prefix}_{entry.split}_{entry.level}_{spec.prompt.num_shots}shot"].append(spec.name)

    _add_training_mixtures(training, report, eps=eps, temperature=temperature, proportions=proportions)
    for name, tasks in sorted(evaluation.items()):
        registry.add_mixture(registry.MixtureSpec(name, tuple((t, 1.0 / len(tasks)) for t in sorted(tasks))))
        report.mixtures.append(name)

    expected = {f"{namespace}_train", f"{namespace}_max_train"}
    for catalog in catalogs:
        expected.add(f"{namespace}_{catalog.benchmark}_train")
        for split in EVALUATION_SPLITS:
            for level in LEVELS:
                expected.update(f"{p}_{split}_{level}_{k}shot" for p in (namespace, f"{namespace}_{catalog.benchmark}")
                                for k in EVALUATION_SHOTS)
    report.empty_mixtures = sorted(expected - set(report.mixtures))
    return report


def register_ablation_mixture(report: RegistrationReport, name: str, base: str, benchmark: str, share: float, *,
                              eps: int | None = DEFAULT_EPS) -> str | None:
    """`base` (a training mixture of `report`) plus `benchmark`'s training tasks at `share` of the
    examples (the other benchmarks keep their relative shares), e.g. §4.7's 0.5% dialogue. Returns
    the mixture name, or None when `benchmark` has no training task present (the report says so)."""
    extra = report.training.get(f"{report.namespace}_{benchmark}_train")
    if not extra or base not in report.training:
        report.empty_mixtures.append(name)
        return None
    shares = report.mixing[base].benchmark_shares
    proportions = {b: s * (1.0 - share) for b, s in shares.items()}
    proportions[benchmark] = share
    _add_training_mixtures({name: {**report.training[base], **extra}}, report, eps=eps, proportions=proportions)
    return name
