"""The paper's final mixture (§5) over all eight benchmarks plus reasoning and pre-training text:
the real local data of SuperNI, PromptSource, FLAN and Reasoning, and fixtures in the original
formats for CrossFit, ExMix, T5 (TFDS mock rows), UnifiedSKG and the pre-training corpus. Over
10,000 sampled examples every benchmark's share is the configured one within 2 points (and
within 4 binomial standard deviations)."""

import collections
import math
import dataclasses
import json

import pytest
import tensorflow_datasets as tfds

import optiml_jax.tasks as bench
from data_fixtures import real_data_dir
from optiml_jax.data import registry
from optiml_jax.data.formats import tfds_rows
from optiml_jax.data.mixing import PAPER_BENCHMARK_PROPORTIONS
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.tasks import crossfit, exmix, pretraining, t5, unifiedskg
from optiml_jax.tasks.registration import register_catalogs
from test_exmix_reader import write_sources
from user_task_fixtures import write_jsonl

SAMPLED = 10_000
NAMESPACE = "final_fixture"


def _tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


def _fixture_catalogs(root):
    _tsv(root / "crossfit" / "search_qa" / "search_qa_train.tsv", [(f"question: clue {i}", f"answer {i}") for i in range(30)])
    _tsv(root / "crossfit" / "biomrc" / "biomrc_train.tsv", [(f"context: text {i}", f"entity {i}") for i in range(30)])
    write_sources(root / "exmix")
    skg = root / "unifiedskg"
    (skg / "kvret").mkdir(parents=True)
    write_jsonl(skg / "kvret" / "train.jsonl",
                [{"text_in": f"where is place {i}?", "struct_in": f"poi : place {i}", "seq_out": f"{i} miles"}
                 for i in range(30)])
    corpus = write_jsonl(root / "corpus.jsonl", [{"text": f"Document number {i} of the corpus."} for i in range(50)])
    for task in t5.TASKS:  # A prepared-looking TFDS folder per dataset; mock_data serves the rows.
        name, _, version = task.tfds_name.partition(":")
        folder = root.joinpath("tfds", *name.split("/"), version)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "dataset_info.json").write_text(json.dumps({"name": name}))
    return [crossfit.crossfit_benchmark(folder=str(root / "crossfit")), exmix.exmix_benchmark(folder=str(root / "exmix")),
            t5.t5_benchmark(tfds_data_dir=str(root / "tfds")), unifiedskg.unifiedskg_benchmark(folder=str(skg)),
            pretraining.pretraining_benchmark(corpus)]


@pytest.fixture(scope="module")
def final_mixture(tmp_path_factory):
    real_data_dir()
    root = tmp_path_factory.mktemp("benchmarks")
    fixtures = {c.benchmark: c for c in _fixture_catalogs(root)}
    catalogs = [fixtures.get(c.benchmark, c) for c in bench.benchmarks()]
    # Under their own benchmark names the fixture tasks would clash with the bench's registered ones.
    catalogs = [dataclasses.replace(c, entries=tuple(dataclasses.replace(e, name=f"{NAMESPACE}.{e.name}")
                                                     for e in c.entries),
                                    inputs=lambda entry, c=c: c.inputs(dataclasses.replace(
                                        entry, name=entry.name.removeprefix(f"{NAMESPACE}."))))
                if c.benchmark in fixtures else c for c in catalogs]
    report = register_catalogs(catalogs, namespace=NAMESPACE, proportions=PAPER_BENCHMARK_PROPORTIONS)
    # Mocked TFDS datasets carry no split metadata; their 20 rows are under §2.1's cap.
    with pytest.MonkeyPatch.context() as patch, tfds.testing.mock_data(num_examples=20):
        patch.setattr(tfds_rows, "split_size", lambda builder, split, task: 20)
        stream = PackedBatchStream(f"{NAMESPACE}_train", batch_size=8, sequence_length=512, seed=0,
                                   cache_dir=str(root / "cache"))
        sampled = stream.examples_at(range(SAMPLED))
    return report.mixing[f"{NAMESPACE}_train"], sampled


def test_all_nine_shares_are_present_as_the_paper_sets_them(final_mixture):
    rates, _ = final_mixture
    assert rates.absent_benchmarks == ()
    assert rates.benchmark_shares == pytest.approx({b: p / 106 for b, p in PAPER_BENCHMARK_PROPORTIONS.items()})


def test_benchmark_shares_of_10000_sampled_examples_match_the_configured_ones(final_mixture):
    rates, sampled = final_mixture
    counts = collections.Counter(registry.get_task(task).benchmark for task, _ in sampled)
    assert set(counts) == set(PAPER_BENCHMARK_PROPORTIONS)
    for benchmark, share in rates.benchmark_shares.items():
        # Within 2 points, and within 4 binomial standard deviations, which is tighter for the small
        # shares (reasoning 0.94%: 0.39 points).
        tolerance = min(0.02, 4 * math.sqrt(share * (1 - share) / SAMPLED))
        assert abs(counts[benchmark] / SAMPLED - share) <= tolerance, (benchmark, counts[benchmark] / SAMPLED, share)
