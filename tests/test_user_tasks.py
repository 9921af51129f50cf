"""Your own tasks: a catalog file + JSONL, registered without code, trained and evaluated like any
other task; bad catalog lines and rows fail naming file and line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_fixtures import real_data_dir
from optiml_jax.data import registry
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats.custom import read_custom_task
from optiml_jax.data.mixing import PAPER_BENCHMARK_PROPORTIONS
from optiml_jax.tasks.registration import register_catalogs
from optiml_jax.tasks.user import UserCatalogError, user_benchmarks, user_proportions
from user_task_fixtures import sentiment_records, write_jsonl, write_user_catalog

REPO = Path(__file__).resolve().parents[1]


def _rows(prefix):
    return [
        {"name": f"{prefix}_reviews", "category": "Sentiment Analysis", "split": "train",
         "instruction": "Is the review positive or negative?", "records": sentiment_records(40)},
        {"name": f"{prefix}_reviews_eval", "category": "Sentiment Analysis", "split": "dev",
         "level": "fully_supervised", "metric": "accuracy", "instruction": "Is the review positive or negative?",
         "records": sentiment_records(200, offset=1000)},
    ]


def test_user_tasks_register_train_and_evaluate_with_their_metric(tmp_path):
    catalogs = user_benchmarks(set(), [write_user_catalog(tmp_path, _rows("mine"))])
    report = register_catalogs(catalogs, namespace="mine",
                               proportions=user_proportions(catalogs, {**PAPER_BENCHMARK_PROPORTIONS, "user": 5.0}))
    assert report.present == {"user": 2}
    assert {name for name, _ in registry.get_mixture("mine_train").rates} == {"user:mine_reviews", "user:mine_reviews_eval"}
    spec = registry.get_task("user:mine_reviews_eval:0shot")
    assert (spec.split, spec.level, spec.metric, spec.category) == ("validation", "fully_supervised", "accuracy",
                                                                   "Sentiment Analysis")
    assert spec.holdout is not None  # fully supervised: a held-out cut of its rows is evaluated
    assert "user:mine_reviews_eval:0shot" in dict(registry.get_mixture("mine_dev_fully_supervised_0shot").rates)


def test_custom_reader_checks_every_row_naming_task_file_and_row(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", sentiment_records(3))
    data = read_custom_task(good, "reviews", instruction="Is it positive?", require_options=True)
    assert [e.targets for e in data.examples] == [("positive",), ("negative",), ("positive",)]
    assert data.examples[0].options == ("positive", "negative") and data.instruction == "Is it positive?"
    cases = {
        "malformed JSON": ['{"input": "a", "targets": ["b"]}', "{not json"],
        r"row 1\.targets: empty": ['{"input": "a", "targets": []}'],
        r"row 1\.input: missing": ['{"targets": ["b"]}'],
        r"row 1\.options: needs at least two options containing every target": ['{"input": "a", "targets": ["c"], "options": ["a", "b"]}'],
        r"row 1\.options: missing: the task's metric is accuracy": ['{"input": "a", "targets": ["b"]}'],
        r"row 2\.id: 'x' repeats row 1": ['{"id": "x", "input": "a", "targets": ["b"]}', '{"id": "x", "input": "c", "targets": ["d"]}'],
    }
    for message, lines in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(DataFormatError, match=rf"user:reviews: .*bad.jsonl: .*{message}"):
            read_custom_task(str(path), "reviews", instruction="x", require_options="accuracy" in message)
    with pytest.raises(FileNotFoundError, match="user:reviews: data file .*missing.jsonl does not exist"):
        read_custom_task(str(tmp_path / "missing.jsonl"), "reviews", instruction="x")


@pytest.mark.parametrize("change, message", [
    ({"split": "later"}, "split 'later' is not one of"),
    ({"split": "dev"}, "a dev task needs a level in"),
    ({"level": "fully_held_out"}, "level and metric are for dev/test tasks only"),
    ({"category": "Cause Effect Classification"}, "is fully held out"),
    ({"name": "bad name"}, "use letters, digits"),
    ({"data": "nowhere.jsonl"}, "data file .*nowhere.jsonl does not exist"),
])
def test_a_bad_catalog_line_fails_naming_file_and_line(tmp_path, change, message):
    path = write_user_catalog(tmp_path, [{**_rows("bad")[0], **change}])
    if change.get("data"):
        lines = Path(path).read_text().replace("bad_reviews.jsonl", "nowhere.jsonl")
        Path(path).write_text(lines)
    prefix = "" if change.get("data") else r"my_tasks.tsv: line 2: .*"  # A missing file is named by the reader.
    with pytest.raises((UserCatalogError, FileNotFoundError), match=rf"{prefix}{message}"):
        user_benchmarks(set(), [path])


def test_an_evaluation_level_that_contradicts_the_category_is_refused_naming_file_and_line(tmp_path):
    fully = {**_rows("lvl")[1], "level": "fully_held_out", "metric": "accuracy"}
    path = write_user_catalog(tmp_path, [fully])
    with pytest.raises(UserCatalogError, match=r"my_tasks.tsv: line 2: lvl_reviews_eval is fully held out, but "
                                               r"training tasks have its category 'Sentiment Analysis'"):
        user_benchmarks(set(), [path], trained_categories={"Sentiment Analysis"})
    assert user_benchmarks(set(), [path], trained_categories={"Question Answering"})  # a category nothing trains
    partially = {**fully, "level": "partially_held_out"}
    with pytest.raises(UserCatalogError, match="partially held out, but no training task has its category"):
        user_benchmarks(set(), [write_user_catalog(tmp_path, [partially])], trained_categories=set())


def test_blank_lines_keep_the_files_line_numbers_in_errors(tmp_path):
    path = write_user_catalog(tmp_path, [{**_rows("blank")[0], "split": "later"}])
    lines = open(path).read().splitlines()
    open(path, "w").write("\n".join([lines[0], "", "", lines[1]]) + "\n")
    with pytest.raises(UserCatalogError, match="my_tasks.tsv: line 4: split 'later'"):
        user_benchmarks(set(), [path])


def test_a_new_benchmark_that_trains_needs_its_share(tmp_path, monkeypatch):
    catalogs = user_benchmarks(set(), [write_user_catalog(tmp_path, _rows("share"))])
    monkeypatch.delenv("OPTIML_USER_PROPORTIONS", raising=False)
    with pytest.raises(UserCatalogError, match=r"\['user'\] train but have no share.*OPTIML_USER_PROPORTIONS"):
        user_proportions(catalogs, PAPER_BENCHMARK_PROPORTIONS)
    monkeypatch.setenv("OPTIML_USER_PROPORTIONS", "user=3")
    assert user_proportions(catalogs, PAPER_BENCHMARK_PROPORTIONS)["user"] == 3.0
    monkeypatch.setenv("OPTIML_USER_PROPORTIONS", "superni=3")
    with pytest.raises(UserCatalogError, match="paper benchmarks with fixed shares"):
        user_proportions(catalogs, PAPER_BENCHMARK_PROPORTIONS)


def test_a_user_task_whose_name_the_bench_already_has_is_refused(tmp_path):
    with pytest.raises(UserCatalogError, match="my_tasks.tsv: line 2: .*task user:taken_reviews is already in the bench"):
        user_benchmarks({"user:taken_reviews"}, [write_user_catalog(tmp_path, _rows("taken"))])


@pytest.mark.slow
def test_the_readme_user_task_example_trains_and_is_reported_by_the_evaluator(tmp_path):
    """The README's "Your own tasks" commands, run as written (in a scratch folder beside links to
    gin/ and .venv/): the JSONL task trains with `python -m optiml_jax.train` and appears in
    `python -m optiml_jax.eval`'s results.json and report.md."""
    from test_readme import code_blocks, section

    blocks = [b for b in code_blocks(section("## Your own tasks")) if not b.startswith("{")]
    script = "\n".join(blocks).replace("export OPTIML_DATA_DIR=/path/to/data", "")
    assert "python -m optiml_jax.train" in script and "python -m optiml_jax.eval" in script
    env = {**os.environ, "OPTIML_DATA_DIR": real_data_dir(), "OPTIML_CACHE_DIR": str(tmp_path / "cache")}
    os.symlink(REPO / "gin", tmp_path / "gin")
    os.symlink(sys.prefix, tmp_path / ".venv")  # The README runs `.venv/bin/python`: this interpreter's.
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "runs" / "my_tasks" / "checkpoint_2").is_dir()
    out = tmp_path / "runs" / "my_tasks" / "eval"
    results = json.loads((out / "results.json").read_text())
    [row] = [r for r in results["tasks"] if r["task"] == "user:readme_reviews_eval:0shot"]
    assert (row["method"], row["level"], row["n"], row["category"]) == (
        "rank_classification", "fully_supervised", 4, "Sentiment Analysis")
    assert "readme_reviews_eval" in (out / "report.md").read_text()
