"""Mixture scale: our data path vs. naive SeqIO on a 1,991-task SuperNI-format corpus.

    OPTIML_DATA_DIR=../shared/data python benchmarks/mixture_scale.py [--tasks 1991] [--batch-size 8]

Generates a synthetic corpus in the SuperNI task-file schema (words drawn from OPT's vocabulary,
heavy-tailed instance counts and lengths, a few examples longer than a row), then measures, each in
a fresh process so times and peak RSS are not mixed up:

(a) ours: process start → `import optiml_jax.tasks` (the real bench registers too; neither
    TensorFlow nor SeqIO is imported) → registering the corpus as a catalog → `PackedBatchStream`
    → first packed [batch, 2048] batch, with a cold example cache; then steady-state real (non-padding) tokens per second over further batches,
    the peak RSS of the whole process, and the real-token fraction on the real SuperNI training
    mixture (`opt_iml_train`, the local task files) at L = 2048;
(b) naive SeqIO: one `seqio.Task` per task (our SeqIO tasks, `import optiml_jax.seqio_tasks` as
    t5x imports them, the corpus mirrored with `register_in_seqio`: same files, prompts and
    tokens), a mixture with `mixing_rate_num_examples` callables (EPS 4096), `seqio.get_dataset`
    with the packing `DecoderFeatureConverter(bos_id=2)`: process start → first batch.

Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

SEQUENCE_LENGTH = 2048
NAMESPACE = "mixture_scale"
STEADY_BATCHES = 40
REAL_MIXTURE_BATCHES = 40


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- corpus -----------------------------------------------------------------------------------------


def generate_corpus(folder: str, num_tasks: int, seed: int = 0, input_words: int | None = None,
                    instances: int | None = None) -> list[tuple[str, int]]:
    """Writes `num_tasks` SuperNI-schema task files; returns (name, number of instances).

    By default instance counts and input lengths are heavy-tailed; `instances` and `input_words`
    fix them instead (benchmarks/train_throughput.py's long-document case)."""
    from optiml_jax.data.tokenizer import OPTTokenizer

    words = [w[1:] for w, i in OPTTokenizer().tokenizer.get_vocab().items() if w.startswith("\u0120") and w[1:].isalpha()
             and 500 < i < 20000]
    words = np.asarray(sorted(words))
    rng = np.random.default_rng(seed)

    def text(num_words: int) -> str:
        return " ".join(words[rng.integers(len(words), size=num_words)])

    tasks = []
    for t in range(num_tasks):
        name = f"task{10000 + t}_synthetic_scale"
        count = instances or int(np.clip(rng.lognormal(np.log(100), 0.8), 10, 1000))
        lengths = (np.full(count, input_words) if input_words else
                   np.clip(rng.lognormal(np.log(110), 0.9, size=count), 3, 3000).astype(int))
        record = {
            "Contributors": ["synthetic"], "Source": [f"synthetic_{t}"], "URL": [""], "Categories": [f"Category {t % 76}"],
            "Reasoning": [], "Definition": [f"{text(40)}."], "Input_language": ["English"], "Output_language": ["English"],
            "Instruction_language": ["English"], "Domains": ["Synthetic"],
            "Positive Examples": [{"input": text(30), "output": text(5), "explanation": ""} for _ in range(2)],
            "Negative Examples": [],
            "Instances": [{"id": f"task{10000 + t}-{i}", "input": text(int(n)), "output": [text(int(rng.integers(1, 20)))]}
                          for i, n in enumerate(lengths)],
            "Instance License": ["Unknown"],
        }
        with open(os.path.join(folder, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump(record, f)
        tasks.append((name, count))
    return tasks


def _synthetic_catalog(corpus: str, tasks: list[tuple[str, int]]):
    from optiml_jax.tasks.catalog import CatalogEntry
    from optiml_jax.tasks.superni import superni_benchmark

    entries = [CatalogEntry("superni", name, f"Category {i % 76}", f"Category {i % 76}", f"synthetic_{i}", "train",
                            count, "train", "", "synthetic") for i, (name, count) in enumerate(tasks)]
    return superni_benchmark(entries, tasks_dir=corpus)


# -- (a) ours ---------------------------------------------------------------------------------------


def measure_ours(corpus: str, tasks: list[tuple[str, int]], batch_size: int) -> dict:
    import optiml_jax.tasks  # noqa: F401  (the real bench, as a trainer would import it)
    from optiml_jax.data.pipeline import PackedBatchStream
    from optiml_jax.tasks.registration import register_catalogs

    imported = time.perf_counter() - PROCESS_START
    register_catalogs([_synthetic_catalog(corpus, tasks)], namespace=NAMESPACE)
    registered = time.perf_counter() - PROCESS_START
    cache = tempfile.mkdtemp(prefix="mixture_scale_cache_")  # Cold: every task is parsed on first use.
    stream = PackedBatchStream(f"{NAMESPACE}_train", batch_size=batch_size, sequence_length=SEQUENCE_LENGTH, seed=0, cache_dir=cache)
    batch = next(stream)
    first_batch = time.perf_counter() - PROCESS_START

    for _ in range(10):  # Warm up: most tasks get opened here.
        next(stream)
    start, real = time.perf_counter(), 0
    for _ in range(STEADY_BATCHES):
        real += int((next(stream)["decoder_segment_ids"] > 0).sum())
    steady = real / (time.perf_counter() - start)
    synthetic_efficiency = real / (STEADY_BATCHES * batch_size * SEQUENCE_LENGTH)
    opened = stream.report()["tasks_opened"]
    truncated = sum(stream.report()["truncated_examples"].values())

    real_mixture = PackedBatchStream("opt_iml_train", batch_size=batch_size, sequence_length=SEQUENCE_LENGTH, seed=0, cache_dir=cache)
    real_batches = [next(real_mixture)["decoder_segment_ids"] for _ in range(REAL_MIXTURE_BATCHES)]
    real_tokens = sum(int((segments > 0).sum()) for segments in real_batches)
    lengths = [int(n) for segments in real_batches for row in segments for n in np.bincount(row)[1:]]
    return {
        "import_s": imported, "registration_s": registered - imported, "first_batch_s": first_batch,
        "first_batch_real_tokens": int((batch["decoder_segment_ids"] > 0).sum()), "steady_tokens_per_s": steady,
        "synthetic_efficiency": synthetic_efficiency, "tasks_opened": opened, "truncated": truncated,
        "packing_efficiency": real_tokens / (REAL_MIXTURE_BATCHES * batch_size * SEQUENCE_LENGTH),
        # Rows list examples by size, not arrival; a fixed shuffle restores a stream-like order.
        "in_order_efficiency": in_order_efficiency(np.random.default_rng(0).permutation(lengths).tolist()),
        "peak_rss_mb": _peak_rss_mb(),
        "tensorflow_or_seqio_imported": any(name in sys.modules for name in ("tensorflow", "seqio")),
    }


def in_order_efficiency(lengths: list[int]) -> float:
    """Real-token fraction of metaseq's packing (strict stream order, a row closes when the next
    example does not fit) on the same examples, for comparison with our look-ahead packing."""
    rows, space = 1, SEQUENCE_LENGTH
    for length in lengths:
        if length > space:
            rows, space = rows + 1, SEQUENCE_LENGTH
        space -= length
    return sum(lengths) / (rows * SEQUENCE_LENGTH)


# -- (b) naive SeqIO --------------------------------------------------------------------------------


def measure_naive(corpus: str, tasks: list[tuple[str, int]], batch_size: int) -> dict:
    """The t5x way: our SeqIO tasks (text rendered and tokenized in Python, as t5x users get
    them), one per task, under a mixture with callable `mixing_rate_num_examples` rates."""
    import seqio

    from optiml_jax.seqio_tasks import register_in_seqio  # The bench in SeqIO, as t5x's run files import it.
    from optiml_jax.tasks.registration import register_catalogs, task_name

    imported = time.perf_counter() - PROCESS_START
    catalog = _synthetic_catalog(corpus, tasks)
    os.environ["OPTIML_CACHE_DIR"] = tempfile.mkdtemp(prefix="mixture_scale_naive_")
    register_in_seqio(register_catalogs([catalog], namespace=NAMESPACE).tasks, [])
    seqio.MixtureRegistry.add("naive_mixture", [task_name(e) for e in catalog.entries],
                              default_rate=functools.partial(seqio.mixing_rate_num_examples, maximum=4096))
    registered = time.perf_counter() - PROCESS_START
    lengths = {"inputs": SEQUENCE_LENGTH - 512, "targets": 512}
    dataset = seqio.get_dataset("naive_mixture", lengths, seqio.DecoderFeatureConverter(pack=True, bos_id=2),
                                shuffle=True, seed=0, batch_size=batch_size, num_epochs=None)
    next(iter(dataset))
    return {"import_s": imported, "registration_s": registered - imported,
            "first_batch_s": time.perf_counter() - PROCESS_START, "peak_rss_mb": _peak_rss_mb()}


# -- driver -----------------------------------------------------------------------------------------


def _run_child(mode: str, args, timeout: float) -> dict | None:
    command = [sys.executable, __file__, "--measure", mode, "--corpus", args.corpus, "--batch-size", str(args.batch_size)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0:
        raise RuntimeError(f"{mode} measurement failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1991)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--corpus", help="folder for the synthetic corpus (default: a new temporary folder)")
    parser.add_argument("--naive-timeout", type=float, default=900.0, help="seconds before the naive run is given up")
    parser.add_argument("--measure", choices=["ours", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        with open(os.path.join(args.corpus, "tasks.json")) as f:
            tasks = [tuple(t) for t in json.load(f)]
        measure = measure_ours if args.measure == "ours" else measure_naive
        print(json.dumps(measure(args.corpus, tasks, args.batch_size)))
        return

    args.corpus = args.corpus or tempfile.mkdtemp(prefix="mixture_scale_corpus_")
    os.makedirs(args.corpus, exist_ok=True)
    start = time.perf_counter()
    tasks = generate_corpus(args.corpus, args.tasks)
    with open(os.path.join(args.corpus, "tasks.json"), "w") as f:
        json.dump(tasks, f)
    size_mb = sum(os.path.getsize(os.path.join(args.corpus, f"{n}.json")) for n, _ in tasks) / 2**20
    print(f"corpus: {len(tasks)} tasks, {sum(c for _, c in tasks)} instances, {size_mb:.0f} MB, "
          f"generated in {time.perf_counter() - start:.1f} s ({args.corpus})")

    ours = _run_child("ours", args, timeout=900)
    naive = _run_child("naive", args, timeout=args.naive_timeout)
    naive_first = naive["first_batch_s"] if naive else None
    rows = [
        ("first packed batch (process start → batch), s", f"{ours['first_batch_s']:.2f}",
         f"{naive_first:.2f}" if naive else f"> {args.naive_timeout:.0f} (gave up)"),
        ("  of which imports, s", f"{ours['import_s']:.2f}", f"{naive['import_s']:.2f}" if naive else ""),
        ("  of which registering the corpus, s", f"{ours['registration_s']:.2f}", f"{naive['registration_s']:.2f}" if naive else ""),
        ("peak RSS, MB", f"{ours['peak_rss_mb']:.0f}", f"{naive['peak_rss_mb']:.0f}" if naive else ""),
        ("TensorFlow or SeqIO imported", "yes" if ours["tensorflow_or_seqio_imported"] else "no", "yes" if naive else ""),
        ("steady state, real tokens/s", f"{ours['steady_tokens_per_s']:.0f}", ""),
        ("real-token fraction, synthetic corpus", f"{ours['synthetic_efficiency']:.4f}", ""),
        ("real-token fraction, real SuperNI mixture (opt_iml_train)", f"{ours['packing_efficiency']:.4f}", ""),
        ("  same examples packed in stream order (metaseq)", f"{ours['in_order_efficiency']:.4f}", ""),
        ("tasks opened / truncated examples (synthetic)", f"{ours['tasks_opened']} / {ours['truncated']}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'batch ' + str(args.batch_size) + ' x ' + str(SEQUENCE_LENGTH):<{width}}  {'ours':>12}  {'naive seqio':>16}")
    for label, a, b in rows:
        print(f"{label:<{width}}  {a:>12}  {b:>16}")
    if naive:
        print(f"first-batch speed-up over naive SeqIO: {naive_first / ours['first_batch_s']:.1f}x")
    print(json.dumps({
        "benchmark": "mixture_scale",
        "ours_first_batch_s": round(ours["first_batch_s"], 3),
        "naive_first_batch_s": round(naive_first, 3) if naive else None,
        "ours_peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "steady_tokens_per_s": round(ours["steady_tokens_per_s"]),
        "packing_efficiency": round(ours["packing_efficiency"], 4),
    }))


if __name__ == "__main__":
    main()
