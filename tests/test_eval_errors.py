"""Bad input to the evaluator gets a clear error naming what is wrong."""

import jax
import pytest

from data_fixtures import real_data_dir, write_superni_task
from eval_fixtures import CLASSIFICATION_TASKS, register_fixture_tasks, save_tiny_checkpoint, tiny_model
from optiml_jax import eval as eval_cli
from optiml_jax.constants import ACCURACY, ROUGE_L
from optiml_jax.data.examples import DataFormatError
from optiml_jax.evaluation.inference import InferenceEngine
from optiml_jax.evaluation.outputs import ResultsDirectory
from optiml_jax.evaluation.runner import evaluate_tasks
from optiml_jax.partitioning import Partitioner


@pytest.fixture(scope="module")
def engine_and_params():
    model = tiny_model()
    params = model.get_initial_variables(jax.random.PRNGKey(0), {"decoder_input_tokens": (1, 8)})["params"]
    return InferenceEngine(model, Partitioner(), batch_size=8, max_new_tokens=4), params


def test_rank_classification_task_without_options(engine_and_params):
    specs = register_fixture_tasks("nooptionbench", CLASSIFICATION_TASKS[:1], reader="superni", metric=ACCURACY)
    with pytest.raises(ValueError, match=r"nooptionbench:task1344_glue_entailment_classification:0shot .*metric is "
                                         r"accuracy \(rank classification\), but 100 of 100 examples have no answer "
                                         r"options, e.g. \['task1344-"):
        evaluate_tasks(*engine_and_params, specs, progress=False)


def test_empty_task(engine_and_params, tmp_path):
    real_data_dir()  # The tokenizer comes from the data folder.
    write_superni_task(tmp_path, "task90500_empty_fixture", [])
    specs = register_fixture_tasks("emptybench", ["task90500_empty_fixture"], reader="superni", metric=ROUGE_L,
                                   folder=str(tmp_path))
    with pytest.raises(DataFormatError, match=r"task90500_empty_fixture.json: \(examples\): task \S+ has no usable examples"):
        evaluate_tasks(*engine_and_params, specs, progress=False)


def test_missing_checkpoint_and_folder_without_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="--checkpoint .*nowhere: no such directory"):
        eval_cli.evaluate_checkpoints([tmp_path / "nowhere"], split="dev", shots=[0], out_dir=tmp_path / "out")
    (tmp_path / "empty_model").mkdir()
    with pytest.raises(FileNotFoundError, match="empty_model: no t5x checkpoint here"):
        eval_cli.evaluate_checkpoints([tmp_path / "empty_model"], split="dev", shots=[0], out_dir=tmp_path / "out")


def test_unknown_split_and_shots(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"unknown split 'train'; choose one of \['dev', 'test'\]"):
        eval_cli.evaluate_checkpoints([tmp_path], split="train", shots=[0], out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match=r"shots \[3\]: evaluation tasks are registered at \(0, 2, 5\) shots"):
        eval_cli.evaluate_checkpoints([tmp_path], split="dev", shots=[3], out_dir=tmp_path / "out")
    with pytest.raises(SystemExit, match="error: unknown split 'validation'"):
        eval_cli.main(["--checkpoint", str(tmp_path), "--split", "validation", "--out", str(tmp_path / "out")])


def test_no_matching_task_and_changed_settings(tmp_path):
    real_data_dir()
    model_dir = save_tiny_checkpoint(tmp_path / "model")
    with pytest.raises(ValueError, match="no dev task at shots \\[0\\] matching 'no_such_task' has local data"):
        eval_cli.evaluate_checkpoints([model_dir], split="dev", shots=[0], out_dir=tmp_path / "out",
                                      task_pattern="no_such_task")
    ResultsDirectory(tmp_path / "out", {"max_examples_per_task": 4, "max_new_tokens": 8})
    with pytest.raises(ValueError, match="holds results made with other settings \\(max_examples_per_task: 4 there, "
                                         "None now\\)"):
        ResultsDirectory(tmp_path / "out", {"max_examples_per_task": None, "max_new_tokens": 8})
