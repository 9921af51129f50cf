"""The t5x run files (gin/opt_iml_*.gin) and the native ones (gin/native/) train the same recipe:
model, mixture, batch, schedule, optimizer and packed-row length; checkpoints fit the run.

The t5x files import t5x, which CI cannot install, so both are read with `gin_static` (gin's own
parser, nothing imported); t5x's finetune.gin is skipped, so every value compared here must be
set by our files, not inherited from t5x's defaults.
"""

import inspect
from pathlib import Path

import pytest

from optiml_jax import gin_static, optimizers

REPO = Path(__file__).resolve().parents[1]
SIZES = ["tiny", "1.3b", "30b", "175b"]


def read(path):
    return gin_static.parse_files([REPO / path], [REPO], skip_includes=("t5x/",))


def t5x_recipe(config):
    schedule = gin_static.Reference("optiml_optimizers.warmup_linear_decay", evaluate=True)
    # The same schedule drives AdamW and the learning rate t5x logs.
    assert config.value("optax.adamw", "learning_rate") == schedule
    assert config.value("trainer.Trainer", "learning_rate_fn") == schedule
    assert config.value("warmup_linear_decay", "total_steps") == config.macro("TRAIN_STEPS")
    lengths = config.macro("TASK_FEATURE_LENGTHS")
    return {
        "model": config.value("get_config", "name"),
        "dropout_rate": config.value("get_config", "dropout_rate"),
        "module": {arg: config.value("opt.OPT", arg)
                   for arg in ("dtype", "scan_layers", "remat_policy")},
        "mixture": config.macro("MIXTURE_OR_TASK_NAME"),
        "batch_size": config.macro("BATCH_SIZE"),
        "row_length": lengths["inputs"] + lengths["targets"],
        "total_steps": config.macro("TRAIN_STEPS"),
        "peak_learning_rate": config.value("warmup_linear_decay", "peak_learning_rate"),
        "warmup_steps": config.value("warmup_linear_decay", "warmup_steps"),
        "adam": {arg: config.value("optax.adamw", arg)
                 for arg in ("b1", "b2", "eps", "weight_decay")},
        "clip_norm": config.value("clip_by_global_norm", "max_norm"),
        "seed": config.value("DatasetConfig", "seed", scope="train"),
        "save_period": config.value("SaveCheckpointConfig", "period"),
    }


def native_recipe(config):
    defaults = {name: p.default for name, p in
                inspect.signature(optimizers.create_optimizer).parameters.items()}

    def optimizer(arg):
        try:
            return config.value("create_optimizer", arg)
        except KeyError:
            return defaults[arg]

    lengths = config.value("DatasetConfig", "task_feature_lengths", scope="train")
    return {
        "model": config.value("get_config", "name"),
        "dropout_rate": config.value("get_config", "dropout_rate"),
        "module": {arg: config.value("opt.OPT", arg)
                   for arg in ("dtype", "scan_layers", "remat_policy")},
        "mixture": config.value("DatasetConfig", "mixture_or_task_name", scope="train"),
        "batch_size": config.value("DatasetConfig", "batch_size", scope="train"),
        "row_length": lengths["inputs"] + lengths["targets"],
        "total_steps": config.value("train_script.train", "total_steps"),
        "peak_learning_rate": optimizer("learning_rate"),
        "warmup_steps": optimizer("warmup_steps"),
        "adam": {arg: optimizer(arg) for arg in ("b1", "b2", "eps", "weight_decay")},
        "clip_norm": optimizer("clip_norm"),
        "seed": config.value("DatasetConfig", "seed", scope="train"),
        "save_period": config.value("SaveCheckpointConfig", "period"),
    }


@pytest.mark.parametrize("size", SIZES)
def test_t5x_and_native_run_files_resolve_the_same_recipe(size):
    t5x = t5x_recipe(read(f"gin/opt_iml_{size}.gin"))
    native = native_recipe(read(f"gin/native/opt_iml_{size}.gin"))
    assert t5x == native


@pytest.mark.parametrize("size", ["1.3b", "30b", "175b"])
def test_paper_size_runs_save_periodically_and_at_their_last_step(size):
    recipe = t5x_recipe(read(f"gin/opt_iml_{size}.gin"))
    assert recipe["total_steps"] % recipe["save_period"] == 0
    assert recipe["total_steps"] // recipe["save_period"] >= 8


def test_the_paper_recipe():
    recipe = t5x_recipe(read("gin/opt_iml_30b.gin"))
    assert recipe["model"] == "opt-30b" and recipe["mixture"] == "opt_iml_train"
    assert (recipe["batch_size"], recipe["row_length"], recipe["total_steps"]) == (256, 2048, 4000)
    assert (recipe["peak_learning_rate"], recipe["warmup_steps"]) == (5e-5, 60)
    assert recipe["adam"]["b1"] == 0.9 and recipe["adam"]["b2"] == 0.95
    assert recipe["clip_norm"] == 1.0 and recipe["dropout_rate"] == 0.1


@pytest.mark.parametrize("run_file", ["gin/opt_iml_eval.gin", "gin/opt_iml_infer.gin"])
def test_eval_and_infer_share_the_training_model_layer(run_file):
    config = read(run_file)
    assert "gin/opt_iml_t5x_model.gin" in config.included
    assert config.value("DecoderOnlyModel", "optimizer_def") is None
    # The network comes from the gin/models/ file given before this one, as in training.
    assert config.bindings[("", "models.DecoderOnlyModel", "module")] == gin_static.Macro("NETWORK")
    lengths = config.macro("TASK_FEATURE_LENGTHS")
    assert lengths["inputs"] + lengths["targets"] == 2048  # OPT's positions
    assert config.macro("MIXTURE_OR_TASK_NAME").startswith("opt_iml_dev_")
