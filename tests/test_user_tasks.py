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
    with pytest.raises((UserCatalogError, FileNotFoundError), match=rf"(my_tasks.tsv: line 2: .*)?{message}"):
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
    with pytest.raises(UserCatalogError, match="already in the bench"):
        user_benchmarks({"user:share_reviews"}, [write_user_catalog(tmp_path, _rows("share"))])


def _run(argv, env):
    done = subprocess.run([sys.executable, "-m", *argv], env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_a_user_task_is_trained_by_the_trainer_and_reported_by_the_evaluator(tmp_path):
    real_data_dir()
    catalog = write_user_catalog(tmp_path, _rows("readme"))
    env = {**os.environ, "OPTIML_USER_TASKS": catalog, "OPTIML_USER_PROPORTIONS": "user=5",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    model_dir = tmp_path / "model"
    bindings = [f'MODEL_DIR="{model_dir}"', "TRAIN_STEPS=2", "WARMUP_STEPS=1", "SAVE_PERIOD=2",
                "MIXTURE_OR_TASK_NAME='opt_iml_user_train'", "TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 128}",
                "train_script.train.progress_bar=False"]
    _run(["optiml_jax.train", "--gin_file=gin/native/opt_iml_tiny.gin", *(f"--gin.{b}" for b in bindings)], env)
    assert (model_dir / "checkpoint_2").is_dir()

    out = tmp_path / "eval"
    _run(["optiml_jax.eval", "--checkpoint", str(model_dir), "--split", "dev", "--shots", "0", "--out", str(out),
          "--tasks", "^user:", "--max_examples_per_task", "4"], env)
    results = json.loads((out / "results.json").read_text())
    [row] = [r for r in results["tasks"] if r["task"].startswith("user:readme_reviews_eval")]
    assert (row["method"], row["level"], row["n"]) == ("rank_classification", "fully_supervised", 4)
    assert "readme_reviews_eval" in (out / "report.md").read_text()
