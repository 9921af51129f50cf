"""Registration: idempotent, fast at 2,000 tasks, importable from anywhere, bad input reported."""

import subprocess
import sys
import time

import pytest
import seqio

import optiml_jax.tasks as bench
from data_fixtures import real_data_dir, write_superni_task
from optiml_jax.data import registry
from optiml_jax.data.examples import DataFormatError, UnknownNameError
from optiml_jax.data.formats.superni import EMPTY_OUTPUT_LIST
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.seqio_tasks import register_in_seqio  # Importing it mirrors the bench into SeqIO.
from optiml_jax.tasks import superni
from optiml_jax.tasks.catalog import CatalogEntry
from optiml_jax.tasks.superni import superni_benchmark
from optiml_jax.tasks.registration import register_catalogs


def _catalog(folder, names, split="train"):
    entries = [CatalogEntry("superni", n, "Question Answering", "Question Answering", f"{n}_source", "train",
                            100, split, "fully_held_out" if split == "test" else "", "fixture") for n in names]
    return superni_benchmark(entries, tasks_dir=str(folder))


def test_import_registers_tasks_and_mixtures_in_seqio_idempotently():
    names = set(seqio.TaskRegistry.names())
    assert {"superni:task1557_jfleg_answer_generation", "superni:task1557_jfleg_answer_generation:5shot"} <= names
    assert len([n for n in names if n.startswith("superni:")]) == superni.NUM_TASKS + 3 * (25 + 44)
    real_data_dir()  # The mixtures below exist only when task files are present.
    assert "opt_iml_train" in seqio.MixtureRegistry.names()
    again = register_catalogs(bench.benchmarks())
    assert set(bench.REPORT.mixtures) - set(again.mixtures) == set(bench.DIALOGUE_MIXTURES)  # Added after.
    register_in_seqio(again.tasks, again.mixtures)  # Mirroring again changes nothing.
    assert set(seqio.TaskRegistry.names()) == names
    mixture = seqio.get_mixture_or_task("opt_iml_train")
    assert all(isinstance(mixture.get_rate(t), float) for t in mixture.tasks[:5])


def test_registering_2000_tasks_is_fast(tmp_path):
    names = [f"task{90000 + i}_scale_fixture" for i in range(2000)]
    for name in names:
        open(tmp_path / f"{name}.json", "w").close()  # Registration only checks that files exist.
    start = time.perf_counter()
    report = register_catalogs([_catalog(tmp_path, names)], namespace="scale_fixture")
    register_in_seqio(report.tasks, report.mixtures)
    elapsed = time.perf_counter() - start
    assert len(registry.get_mixture("scale_fixture_train").rates) == 2000
    assert "scale_fixture_train" in seqio.MixtureRegistry.names() and not report.absent
    assert elapsed < 10, elapsed


def test_absent_data_is_left_out_and_counted(tmp_path):
    write_superni_task(tmp_path, "task90100_present", [("q", ["a"])])
    report = register_catalogs([_catalog(tmp_path, ["task90100_present", "task90101_absent"])], namespace="absent_fixture")
    assert report.absent == {"superni": 1}
    assert [n for n, _ in registry.get_mixture("absent_fixture_train").rates] == ["superni:task90100_present"]
    assert registry.get_task("superni:task90101_absent").path is None


def test_unknown_mixture_and_unknown_task_names_are_reported(tmp_path):
    write_superni_task(tmp_path, "task90300_named", [("q", ["a"])])
    register_catalogs([_catalog(tmp_path, ["task90300_named"])], namespace="names_fixture")
    with pytest.raises(UnknownNameError, match=r"unknown mixture 'names_fixture_trian'; did you mean \['names_fixture_train'"):
        PackedBatchStream("names_fixture_trian", batch_size=1)
    with pytest.raises(UnknownNameError, match=r"mixture 'broken': unknown task\(s\) \['superni:task90300_nmaed'\]; "
                                               r"did you mean \['superni:task90300_named'"):
        registry.add_mixture(registry.MixtureSpec("broken", (("superni:task90300_nmaed", 1.0),)))


def test_stream_reports_skipped_instances_and_raises_on_a_broken_file(tmp_path):
    real_data_dir()  # The stream tokenizes with the real OPT tokenizer files.
    write_superni_task(tmp_path, "task90200_good", [(f"q{i}", [f"a{i}"] if i % 10 else []) for i in range(50)])
    register_catalogs([_catalog(tmp_path, ["task90200_good"])], namespace="skip_fixture")
    stream = PackedBatchStream("skip_fixture_train", batch_size=2, sequence_length=256, cache_dir=str(tmp_path / "cache"))
    next(stream)
    assert stream.report()["skipped_input"] == {"superni:task90200_good": {EMPTY_OUTPUT_LIST: 5}}

    (tmp_path / "task90201_broken.json").write_text('{"Definition": ["x"], "Instances": [')
    register_catalogs([_catalog(tmp_path, ["task90201_broken"])], namespace="broken_fixture")
    with pytest.raises(DataFormatError, match=r"task90201_broken\.json: \(JSON syntax\): malformed JSON"):
        next(PackedBatchStream("broken_fixture_train", batch_size=1, sequence_length=256, cache_dir=str(tmp_path / "cache")))


@pytest.mark.slow
def test_importable_from_another_directory_without_a_top_level_tasks_module(tmp_path):
    code = ("import sys, optiml_jax.tasks as t; assert 'tasks' not in sys.modules; "
            "import importlib.util; assert importlib.util.find_spec('tasks') is None; print(len(t.REPORT.tasks))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip().splitlines()[-1]) == len(bench.REPORT.tasks)


@pytest.mark.slow
def test_stats_command_prints_counts_rates_and_plots(tmp_path):
    real_data_dir()  # The rate table needs local task files.
    plot = tmp_path / "rates.png"
    result = subprocess.run([sys.executable, "-m", "optiml_jax.tasks", "stats", "--top", "3", "--plot", str(plot)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ["superni", "train", "-", "1333"] in [line.split() for line in result.stdout.splitlines()]
    for expected in ("Catalog: tasks per benchmark, OPT-IML split and level", "Rate per category",
                     "Catalog tasks without local data (left out of every mixture): ", "superni: 1351 of 1613",
                     "renormalised away", "Top 3 tasks by rate"):
        assert expected in result.stdout, expected
    assert plot.stat().st_size > 1000
