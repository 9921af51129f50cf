"""The t5x run files (gin/opt_iml_*.gin) and the native ones (gin/native/) train the same recipe:
model, mixture, batch, schedule (warm-up, peak, decay to 0 at the last step), optimizer and
feature lengths; checkpoints fit the run.

The t5x files import t5x, which CI cannot install, so both are read with `gin_static` (gin's own
parser, nothing imported); t5x's finetune.gin is skipped, so every value compared here must be
set by our files, not inherited from t5x's defaults.
"""

import inspect
from pathlib import Path

import numpy as np
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
    peak, warmup, total = (config.value("warmup_linear_decay", arg)
                           for arg in ("peak_learning_rate", "warmup_steps", "total_steps"))
    return {
        "model": config.value("get_config", "name"),
        "dropout_rate": config.value("get_config", "dropout_rate"),
        "module": {arg: config.value("opt.OPT", arg)
                   for arg in ("dtype", "scan_layers", "remat_policy")},
        "mixture": config.macro("MIXTURE_OR_TASK_NAME"),
        "batch_size": config.macro("BATCH_SIZE"),
        "feature_lengths": config.macro("TASK_FEATURE_LENGTHS"),
        "total_steps": config.macro("TRAIN_STEPS"),
        "peak_learning_rate": peak,
        "warmup_steps": warmup,
        "schedule": learning_rates(optimizers.warmup_linear_decay(peak, warmup, total), total),
        "adam": {arg: config.value("optax.adamw", arg)
                 for arg in ("b1", "b2", "eps", "weight_decay")},
        "clip_norm": config.value("clip_by_global_norm", "max_norm"),
        "seed": config.value("DatasetConfig", "seed", scope="train"),
        "save_period": config.value("SaveCheckpointConfig", "period"),
    }


def learning_rates(schedule, total_steps):
    """The learning rate of every step 0 … total_steps (the value at `total_steps` is the one
    after the last update, where the decay ends)."""
    return tuple(np.asarray(schedule(np.arange(total_steps + 1))).tolist())


def native_recipe(config):
    defaults = {name: p.default for name, p in
                inspect.signature(optimizers.create_optimizer).parameters.items()}

    def optimizer(arg):
        try:
            return config.value("create_optimizer", arg)
        except KeyError:
            return defaults[arg]

    total = config.value("train_script.train", "total_steps")
    _, schedule = optimizers.create_optimizer(total_steps=total, **{
        arg: optimizer(arg) for arg in ("learning_rate", "warmup_steps", "weight_decay")})
    return {
        "model": config.value("get_config", "name"),
        "dropout_rate": config.value("get_config", "dropout_rate"),
        "module": {arg: config.value("opt.OPT", arg)
                   for arg in ("dtype", "scan_layers", "remat_policy")},
        "mixture": config.value("DatasetConfig", "mixture_or_task_name", scope="train"),
        "batch_size": config.value("DatasetConfig", "batch_size", scope="train"),
        "feature_lengths": config.value("DatasetConfig", "task_feature_lengths", scope="train"),
        "total_steps": total,
        "peak_learning_rate": optimizer("learning_rate"),
        "warmup_steps": optimizer("warmup_steps"),
        "schedule": learning_rates(schedule, total),
        "adam": {arg: optimizer(arg) for arg in ("b1", "b2", "eps", "weight_decay")},
        "clip_norm": optimizer("clip_norm"),
        "seed": config.value("DatasetConfig", "seed", scope="train"),
        "save_period": config.value("SaveCheckpointConfig", "period"),
    }


@pytest.mark.parametrize("size", SIZES)
def test_t5x_and_native_run_files_resolve_the_same_recipe(size):
    t5x = t5x_recipe(read(f"gin/opt_iml_{size}.gin"))
    native = native_recipe(read(f"gin/native/opt_iml_{size}.gin"))
    # Field by field, so a failure names what differs.
    assert t5x.keys() == native.keys()
    for field in t5x:
        assert t5x[field] == native[field], field
    lengths = t5x["feature_lengths"]
    assert set(lengths) == {"inputs", "targets"} and lengths["inputs"] > lengths["targets"]
    for recipe in (t5x, native):
        rates, peak, warmup = recipe["schedule"], recipe["peak_learning_rate"], recipe["warmup_steps"]
        assert rates[warmup - 1] == pytest.approx(peak, rel=1e-6)  # warm-up ends at the peak
        assert all(a >= b for a, b in zip(rates[warmup - 1:], rates[warmup:]))  # then only decays
        assert rates[-2] > 0 and rates[-1] == 0.0  # to exactly 0 after the last update


@pytest.mark.parametrize("size", ["1.3b", "30b", "175b"])
def test_paper_size_runs_save_periodically_and_at_their_last_step(size):
    recipe = t5x_recipe(read(f"gin/opt_iml_{size}.gin"))
    assert recipe["total_steps"] % recipe["save_period"] == 0
    assert recipe["total_steps"] // recipe["save_period"] >= 8


def test_the_paper_recipe():
    recipe = t5x_recipe(read("gin/opt_iml_30b.gin"))
    assert recipe["model"] == "opt-30b" and recipe["mixture"] == "opt_iml_train"
    assert (recipe["batch_size"], recipe["total_steps"]) == (256, 4000)
    assert recipe["feature_lengths"] == {"inputs": 1536, "targets": 512}  # rows of 2048 tokens
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


@pytest.mark.parametrize("run_file", ["opt_iml_tiny", "opt_iml_1.3b", "opt_iml_30b", "opt_iml_175b",
                                      "opt_iml_max_30b", "opt_iml_max_175b"])
def test_in_training_evaluation_uses_the_evaluators_placement(run_file):
    from optiml_jax.evaluation.placement import evaluation_placement
    from optiml_jax.models.configs import get_config

    config = read(f"gin/native/{run_file}.gin")
    mesh_shape = config.value("train_hook.train_eval_fn", "mesh_shape")
    dtype = config.value("train_hook.train_eval_fn", "dtype")
    placement = evaluation_placement(get_config(config.value("get_config", "name")))
    if "30b" in run_file or "175b" in run_file:  # Stated in the run file, as the evaluator's default.
        assert (mesh_shape, dtype) == (placement.mesh_shape, placement.dtype)
    else:  # None: the evaluator's default, chosen when the hook first runs.
        assert (mesh_shape, dtype) == (None, None)
