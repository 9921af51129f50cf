"""Register benchmark catalogs: one task per catalog task (and per evaluation shot count), the
mixtures, and their SeqIO mirrors. Fast at 2,000 tasks: no data file is opened here.

Names (`{benchmark}:{task}` with "-" written "_", SeqIO's name rule):
- `superni:task190_snli_classification`: every catalog task, all its instances, split "train";
- `superni:task190_snli_classification:5shot`: a dev/test task's evaluation instances with k
  demonstrations, split "validation" (dev) or "test", for k in 0, 2, 5.

Mixtures (`{ns}` is `opt_iml` for the bench):
- `{ns}_train`: OPT-IML's training mixture (split "train"), rates from `optiml_jax.data.mixing`;
- `{ns}_max_train`: every task (OPT-IML-Max trains on all tasks, §6.1), same rates rule;
- `{ns}_{benchmark}_train`: one benchmark's training tasks;
- `{ns}_{split}_{level}_{k}shot` and `{ns}_{benchmark}_{split}_{level}_{k}shot`: evaluation
  tasks of one level (equal rates; evaluation reads every task in full).
A mixture lists only tasks whose data is present locally; the report counts those left out, and a
mixture with no present task is not registered (the report names it).
"""

from __future__ import annotations

import collections
import dataclasses

from optiml_jax.data import registry, seqio_tasks
from optiml_jax.data.mixing import DEFAULT_EPS, PAPER_BENCHMARK_PROPORTIONS, MixingRates, compute_mixing_rates
from optiml_jax.data.prompting import EVALUATION_SHOTS, PromptConfig
from optiml_jax.tasks.catalog import EVALUATION_SPLITS, LEVELS, BenchmarkCatalog, CatalogEntry
from optiml_jax.tasks.levels import evaluation_row



@dataclasses.dataclass
class RegistrationReport:
    namespace: str
    tasks: list[str] = dataclasses.field(default_factory=list)
    mixtures: list[str] = dataclasses.field(default_factory=list)
    empty_mixtures: list[str] = dataclasses.field(default_factory=list)
    absent: dict[str, int] = dataclasses.field(default_factory=dict)  # benchmark → catalog tasks without data.
    mixing: dict[str, MixingRates] = dataclasses.field(default_factory=dict)  # training mixtures' rates.


def task_name(entry: CatalogEntry, shots: int | None = None) -> str:
    base = f"{entry.benchmark}:{entry.name.replace('-', '_')}"
    return base if shots is None else f"{base}:{shots}shot"


def _specs(catalog: BenchmarkCatalog, entry: CatalogEntry, path: str | None) -> list[registry.TaskSpec]:
    common = dict(source_name=entry.name, benchmark=entry.benchmark, category=entry.category,
                  reader=catalog.reader, path=path, num_examples=entry.num_examples)
    specs = [registry.TaskSpec(name=task_name(entry), split="train", level="", **common)]
    if entry.split in EVALUATION_SPLITS:
        row = evaluation_row(entry.benchmark, entry.name)
        evaluation = dict(metric=row.metric if row else catalog.evaluation_metric,
                          evaluation_task=row.name if row else entry.name)
        specs += [
            registry.TaskSpec(name=task_name(entry, shots), split=EVALUATION_SPLITS[entry.split], level=entry.level,
                              max_examples=catalog.evaluation_instances, prompt=PromptConfig(num_shots=shots),
                              **evaluation, **common)
            for shots in EVALUATION_SHOTS
        ]
    return specs


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
            path = catalog.data_file(entry)
            if path is None:
                report.absent[entry.benchmark] = report.absent.get(entry.benchmark, 0) + 1
            for spec in _specs(catalog, entry, path):
                registry.add_task(spec)
                report.tasks.append(spec.name)
            if path is None:
                continue
            name, weight = task_name(entry), (entry.benchmark, entry.num_examples)
            training[f"{namespace}_max_train"][name] = weight
            if entry.split == "train":
                training[f"{namespace}_train"][name] = weight
                training[f"{namespace}_{entry.benchmark}_train"][name] = weight
            if entry.split in EVALUATION_SPLITS:
                for shots in EVALUATION_SHOTS:
                    for prefix in (namespace, f"{namespace}_{entry.benchmark}"):
                        evaluation[f"{prefix}_{entry.split}_{entry.level}_{shots}shot"].append(task_name(entry, shots))

    for name, tasks in sorted(training.items()):
        rates = compute_mixing_rates(tasks, eps=eps, temperature=temperature, proportions=proportions)
        report.mixing[name] = rates
        registry.add_mixture(registry.MixtureSpec(name, tuple(sorted(rates.rates.items())), rates.describe()))
        report.mixtures.append(name)
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
    seqio_tasks.register_in_seqio(report.tasks, report.mixtures)
    return report
