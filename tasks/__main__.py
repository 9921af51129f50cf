"""Inspect the OPT-IML Bench.

    python -m optiml_jax.tasks stats [--mixture opt_iml_train] [--top 20] [--plot rates.png]
        per benchmark: catalog tasks against the paper's Table 1 and how many are present locally;
        counts per split / level / category, and the mixture's rate table (per benchmark, per
        category, top tasks) with a line per benchmark saying how many local examples carry its
        share (so a large share resting on few examples, which repeat, shows; counting opens each
        training task once, through the cache training uses); --plot writes a bar chart.
    python -m optiml_jax.tasks build-catalog --benchmark BENCHMARK --output FILE
        rebuilds a benchmark's catalog from its public files ($OPTIML_DATA_DIR and the settings of
        docs/benchmark.md); tests check the checked-in files against a rebuild.
    python -m optiml_jax.tasks decontaminate [--mixture opt_iml_train] [--out decontamination] [--threshold 0.01]
        13-gram overlap of every (training task, evaluation task) pair present locally (§2.3): prints
        the pairs over the threshold, its runtime and peak memory, and writes them as TSV and JSON;
        decisions go in a decisions file (tasks/decontamination.py).
"""

from __future__ import annotations

import argparse
import collections
import sys

from optiml_jax.data import paths, registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.task_reader import TaskReader


def _table(title: str, header: list[str], rows: list[list]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title] + ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    return "\n".join(lines) + "\n"


# Table 1's task counts, and why ours differ (docs/benchmark.md).
PAPER_TASKS = {
    "superni": (1613, ""),
    "promptsource": (280, "one task per templates file (279 at the local commit), ANLI split into its 3 rounds; "
                          "the paper used commit 0cc4b0c"),
    "crossfit": (159, "the release's 160 (the paper does not say which one it left out)"),
    "flan": (70, ""),
    "exmix": (14, ""),
    "t5": (36, ""),
    "unifiedskg": (21, ""),
    "reasoning": (14, ""),
    "pretraining": (None, "§4.5: the 5% pre-training text of the final mixtures, not a Table 1 benchmark"),
    "dialogue": (None, "§4.7 ablation only, not part of Table 1"),
}
PAPER_BENCH_TASKS = 1991  # §1, §6.1: the whole collection.
PAPER_TRAIN_TASKS = 1545  # Table 1's train split (Table 16 says 1,531).


def benchmark_counts(entries, report) -> str:
    """Catalog vs Table 1 per benchmark, what OPT-IML keeps of it (all but "removed", §2.1), its
    train/dev/test tasks and how many are present locally; then the bench's totals."""
    by = collections.defaultdict(collections.Counter)
    for e in entries:
        by[e.benchmark][e.split] += 1
    rows, total, train = [], 0, 0
    for benchmark, (paper, note) in PAPER_TASKS.items():
        counts = by.get(benchmark, collections.Counter())
        catalogued, kept = sum(counts.values()), sum(counts.values()) - counts["removed"]
        if paper is not None:
            total, train = total + kept, train + counts["train"]
        note = note or ("" if catalogued == paper else "see docs/benchmark.md")
        rows.append([benchmark, catalogued, "-" if paper is None else paper, kept, counts["train"], counts["dev"],
                     counts["test"], report.present.get(benchmark, 0), note])
    out = _table("Tasks per benchmark: catalog vs the paper's Table 1, kept in OPT-IML Bench (all but those §2.1 "
                 "removes), per split, and present locally",
                 ["benchmark", "catalog", "paper", "kept", "train", "dev", "test", "present", "difference"], rows)
    out += (f"OPT-IML Bench (Table 1's eight benchmarks): {total} tasks kept (paper: {PAPER_BENCH_TASKS:,}); train split "
            f"{train} tasks (paper: {PAPER_TRAIN_TASKS:,}; docs/benchmark.md explains the differences)\n")
    return out


def catalog_summary(entries, report) -> str:
    by_split = collections.Counter((e.benchmark, e.split, e.level or "-") for e in entries)
    out = _table(
        "Catalog: tasks per benchmark, OPT-IML split and level",
        ["benchmark", "split", "level", "tasks"],
        [[b, s, lvl, n] for (b, s, lvl), n in sorted(by_split.items())],
    )
    by_official = collections.Counter((e.benchmark, e.official_split) for e in entries)
    out += _table("Official splits", ["benchmark", "official split", "tasks"], [[b, s, n] for (b, s), n in sorted(by_official.items())])
    categories = collections.defaultdict(collections.Counter)
    for e in entries:
        categories[e.category][e.split] += 1
    out += _table(
        f"Categories ({len(categories)})",
        ["category", "train", "dev", "test", "held_out"],
        [[c, *(counts[s] for s in ("train", "dev", "test", "held_out"))] for c, counts in sorted(categories.items())],
    )
    absent = ", ".join(f"{b}: {n} of {sum(e.benchmark == b for e in entries)}" for b, n in sorted(report.absent.items()))
    out += f"Catalog tasks without local data (left out of every mixture): {absent or 'none'}\n"
    out += f"Empty mixtures (no task present locally, not registered): {len(report.empty_mixtures)}\n"
    return out


def rate_table(mixture_name: str, top: int) -> tuple[str, dict[str, float]]:
    mixture = registry.get_mixture(mixture_name)
    specs = {name: registry.get_task(name) for name, _ in mixture.rates}
    per_benchmark, per_category = collections.Counter(), collections.Counter()
    for name, rate in mixture.rates:
        per_benchmark[specs[name].benchmark] += rate
        per_category[specs[name].category] += rate
    out = f"Mixture {mixture_name}: {len(mixture.rates)} tasks\n{mixture.description}\n"
    out += _table("Rate per benchmark", ["benchmark", "rate %"], [[b, f"{100 * r:.2f}"] for b, r in per_benchmark.most_common()])
    out += _table("Rate per category", ["category", "rate %"], [[c, f"{100 * r:.2f}"] for c, r in per_category.most_common()])
    ranked = sorted(mixture.rates, key=lambda item: -item[1])[:top]
    out += _table(
        f"Top {len(ranked)} tasks by rate",
        ["task", "category", "examples", "rate %"],
        [[n, specs[n].category, specs[n].num_examples, f"{100 * r:.3f}"] for n, r in ranked],
    )
    return out, dict(per_category)


def local_backing(mixture_name: str, store: ExampleStore) -> str:
    """One line per benchmark: its training tasks present locally, their examples (held-out
    instances excluded, as training reads them) and the share of the mixture they carry."""
    tasks, examples, shares = collections.Counter(), collections.Counter(), collections.Counter()
    for name, rate in registry.get_mixture(mixture_name).rates:
        spec = registry.get_task(name)
        tasks[spec.benchmark] += 1
        examples[spec.benchmark] += len(TaskReader(spec, store))
        shares[spec.benchmark] += rate
    lines = [f"Local examples behind each benchmark's share of {mixture_name} (few examples under a large share "
             f"repeat often):"]
    for benchmark, share in shares.most_common():
        per_million = share * 1_000_000 / examples[benchmark]
        per_million = f"{per_million:,.0f}" if per_million >= 10 else f"{per_million:.2g}"
        lines.append(f"  {benchmark}: {tasks[benchmark]} train task{'s' * (tasks[benchmark] != 1)} present locally, "
                     f"{examples[benchmark]:,} examples, carries {100 * share:.2f}% of {mixture_name} "
                     f"(each example drawn about {per_million} times per million)")
    return "\n".join(lines) + "\n"


def plot_rates(per_category: dict[str, float], mixture_name: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted(per_category.items(), key=lambda item: item[1])
    figure, axes = plt.subplots(figsize=(8, max(3, 0.22 * len(ranked))))
    axes.barh([c for c, _ in ranked], [100 * r for _, r in ranked])
    axes.set_xlabel("sampling rate (%)")
    axes.set_title(f"{mixture_name}: rate per category")
    axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _build_superni():
    from optiml_jax.tasks import superni

    return superni.build_catalog(paths.require_data_dir())


def _build_promptsource():
    from optiml_jax.tasks import promptsource

    folder = paths.data_setting("OPTIML_PROMPTSOURCE_DIR", "promptsource", "templates")
    if not folder:
        raise SystemExit(f"Set {paths.DATA_DIR_ENV} or OPTIML_PROMPTSOURCE_DIR to find PromptSource's templates.")
    return promptsource.build_catalog(folder)


def _build_flan():
    from optiml_jax.tasks import flan

    return flan.build_catalog(flan.templates_file())


def _build_code_table(module: str):
    def build():
        import importlib

        return importlib.import_module(f"optiml_jax.tasks.{module}").build_catalog()

    return build


CATALOG_BUILDERS = {"superni": _build_superni, "promptsource": _build_promptsource, "flan": _build_flan,
                    **{name: _build_code_table(name) for name in ("crossfit", "exmix", "t5", "unifiedskg", "reasoning",
                                                                 "dialogue")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optiml_jax.tasks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser("stats", help="catalog counts and a mixture's rate table")
    stats.add_argument("--mixture", default="opt_iml_train")
    stats.add_argument("--top", type=int, default=20, help="how many tasks the rate table lists")
    stats.add_argument("--plot", metavar="PNG", help="write a bar chart of the rate per category")
    build = commands.add_parser("build-catalog", help="rebuild a benchmark's catalog from its public files")
    build.add_argument("--benchmark", required=True, choices=sorted(CATALOG_BUILDERS))
    build.add_argument("--output", required=True)
    decontaminate = commands.add_parser("decontaminate", help="13-gram overlap of training and evaluation tasks")
    decontaminate.add_argument("--mixture", default="opt_iml_train", help="the training mixture whose tasks to check")
    decontaminate.add_argument("--out", default="decontamination", help="folder for overlaps.tsv and overlaps.json")
    decontaminate.add_argument("--threshold", type=float, default=0.01, help="report pairs over this fraction (§2.3: 1%%)")
    args = parser.parse_args(argv)

    import optiml_jax.tasks as bench
    from optiml_jax.tasks.catalog import write_catalog

    if args.command == "decontaminate":
        from optiml_jax.tasks.decontamination import run

        run(args.mixture, args.out, args.threshold)
        return 0
    if args.command == "build-catalog":
        entries = CATALOG_BUILDERS[args.benchmark]()
        write_catalog(args.output, entries)
        print(f"wrote {len(entries)} {args.benchmark} tasks to {args.output}")
        return 0
    catalogs = bench.CATALOGS
    entries = [entry for catalog in catalogs for entry in catalog.entries]
    print(benchmark_counts(entries, bench.REPORT))
    for note in (note for catalog in catalogs for note in catalog.notes):
        print(f"Local data: {note}")
    print(catalog_summary(entries, bench.REPORT))
    table, per_category = rate_table(args.mixture, args.top)
    print(table)
    print(local_backing(args.mixture, ExampleStore()))
    if args.plot:
        plot_rates(per_category, args.mixture, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
