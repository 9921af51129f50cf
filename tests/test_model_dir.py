"""A t5x MODEL_DIR (t5x's operative config.gin, no config.json) tells our tools which model it
holds, and checkpoint paths go through `etils.epath`: gs:// URIs are kept whole, and local
directories take the same code path."""

import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from etils import epath

from optiml_jax import checkpoints
from optiml_jax.eval import checkpoint_steps
from optiml_jax.gin_utils import PROJECT_ROOT
from optiml_jax.models.configs import get_config
from optiml_jax.models.opt import OPT


def operative_config(model_file: str, **bindings) -> str:
    """What t5x writes to MODEL_DIR/config.gin: gin's operative config after building NETWORK."""
    gin.clear_config()
    try:
        gin.add_config_file_search_path(str(PROJECT_ROOT))
        gin.parse_config_files_and_bindings(
            [str(PROJECT_ROOT / model_file)], [f"{k} = {v!r}" for k, v in bindings.items()])
        gin.query_parameter("%NETWORK").scoped_configurable_fn()  # builds OPT(get_config(...))
        return gin.operative_config_str()
    finally:
        gin.clear_config()


def tiny_params(config, scan_layers):
    tokens = jnp.ones((1, 4), jnp.int32)
    variables = OPT(config, scan_layers=scan_layers).init(jax.random.PRNGKey(0), tokens, tokens,
                                                          enable_dropout=False)
    return jax.tree.map(np.asarray, variables["params"])


def test_t5x_model_dir_is_described_by_its_config_gin(tmp_path):
    text = operative_config("gin/models/opt_tiny.gin", DROPOUT_RATE=0.05)
    assert "configs.get_config.name = 'tiny'" in text
    (tmp_path / "config.gin").write_text(text)
    checkpoints.save_params(tmp_path, tiny_params(get_config("tiny"), scan_layers=True), step=20)
    expected = get_config("tiny", dropout_rate=0.05)
    assert checkpoints.load_config(tmp_path) == expected
    assert checkpoints.load_config(tmp_path / "checkpoint_20") == expected
    # What `python -m optiml_jax.eval --checkpoint MODEL_DIR` restores.
    params = checkpoints.restore_params(tmp_path, config=expected, scan_layers=False)
    assert params["layers_1"]["fc1"]["kernel"].shape == (64, 256)


def test_config_json_wins_over_config_gin(tmp_path):
    (tmp_path / "config.gin").write_text(operative_config("gin/models/opt_tiny.gin",
                                                          DROPOUT_RATE=0.1))
    checkpoints.save_config(tmp_path, get_config("opt-125m"))
    assert checkpoints.load_config(tmp_path) == get_config("opt-125m")


def test_config_gin_without_get_config_says_what_is_needed(tmp_path):
    (tmp_path / "config.gin").write_text("MODEL_DIR = '/tmp/x'\n")
    with pytest.raises(ValueError, match=r"nothing binds get_config\.name.*config\.json"):
        checkpoints.load_config(tmp_path)


def test_model_dir_without_any_config_names_both_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no config\.json \(or t5x's config\.gin\)"):
        checkpoints.load_config(tmp_path)


def test_gs_uris_are_kept_whole():
    assert str(checkpoints.as_path("gs://bucket/run")) == "gs://bucket/run"
    assert str(checkpoints.step_dir("gs://bucket/run", 3)) == "gs://bucket/run/checkpoint_3"
    assert checkpoints.step_of("gs://bucket/run/checkpoint_3") == 3


def test_local_directories_take_the_epath_code_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = get_config("tiny")
    params = tiny_params(config, scan_layers=True)
    written = checkpoints.save_params(epath.Path("run"), params, step=5)
    assert isinstance(written, epath.Path)
    checkpoints.save_config("run", config)
    assert checkpoint_steps("run") == [(str(tmp_path / "run" / "checkpoint_5"), 5)]
    restored = checkpoints.restore_params(epath.Path("run"), config=config)
    np.testing.assert_array_equal(restored["layers"]["fc1"]["kernel"],
                                  params["layers"]["fc1"]["kernel"])
