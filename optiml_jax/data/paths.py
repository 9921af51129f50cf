"""Where data and caches live: environment settings only, never paths baked into the package.

- `OPTIML_DATA_DIR`: the data folder (`superni/tasks`, `superni/splits`, `flan/`, `tokenizers/`).
- `OPTIML_SUPERNI_DIR`: a full natural-instructions `tasks/` folder; overrides
  `$OPTIML_DATA_DIR/superni/tasks` for the SuperNI task files.
- `OPTIML_CACHE_DIR`: where parsed task files are cached (default `~/.cache/optiml_jax`).
(`OPTIML_TOKENIZER_DIR`, read by `optiml_jax.data.tokenizer`, overrides `$OPTIML_DATA_DIR/tokenizers/opt`.)

Each other benchmark's data has a setting of its own that defaults to a path under the data
folder (`data_setting`); docs/benchmark.md lists them with their defaults:
`OPTIML_PROMPTSOURCE_DIR` (templates), `OPTIML_PROMPTSOURCE_ROWS_DIR` (dataset rows as JSONL),
`OPTIML_P3_DIR`, `OPTIML_SUPERGLUE_DIR`, `OPTIML_FLAN_TEMPLATES`, `OPTIML_CROSSFIT_DIR`,
`OPTIML_EXMIX_DIR`, `OPTIML_UNIFIEDSKG_DIR`, `OPTIML_DART_DEV` (DART's original dev JSON),
`OPTIML_COT_DIR`, `OPTIML_GSM8K_TEST`, `OPTIML_DIALOGUE_DIR`. TFDS datasets (FLAN's, T5's kept
tasks, ExMix's Wiki Toxicity) are read from TFDS's own `TFDS_DATA_DIR` (default
`~/tensorflow_datasets`, `tfds_data_dir`).

Settings read where they are used, with no default under the data folder: `OPTIML_PRETRAINING_TEXT`
(the pre-training corpus, `optiml_jax.tasks.pretraining`), `OPTIML_USER_TASKS` and
`OPTIML_USER_PROPORTIONS` (your own tasks and their benchmark shares, `optiml_jax.tasks.user`),
`OPTIML_DECONTAMINATION_DECISIONS` (extra decisions files, `optiml_jax.tasks.decontamination`) and
`OPTIML_DIALOGUE_SHARE` (a number, the §4.7 ablation's dialogue share, default 0.005,
`optiml_jax.tasks.dialogue`).
"""

from __future__ import annotations

import os

DATA_DIR_ENV = "OPTIML_DATA_DIR"
SUPERNI_DIR_ENV = "OPTIML_SUPERNI_DIR"
CACHE_DIR_ENV = "OPTIML_CACHE_DIR"


def data_dir() -> str | None:
    return os.environ.get(DATA_DIR_ENV) or None


def require_data_dir() -> str:
    folder = data_dir()
    if folder is None:
        raise FileNotFoundError(f"Set {DATA_DIR_ENV} to the OPT-IML Bench data folder (see docs/benchmark.md).")
    return folder


def superni_tasks_dir() -> str | None:
    """The folder holding SuperNI `taskNNN_*.json` files, or None when none is configured."""
    if os.environ.get(SUPERNI_DIR_ENV):
        return os.environ[SUPERNI_DIR_ENV]
    folder = data_dir()
    return os.path.join(folder, "superni", "tasks") if folder else None


def cache_dir() -> str:
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "optiml_jax")


def data_setting(env: str, *default: str) -> str | None:
    """`$env` when set, else `$OPTIML_DATA_DIR/<default…>` (None without a data folder)."""
    if os.environ.get(env):
        return os.environ[env]
    folder = data_dir()
    return os.path.join(folder, *default) if folder and default else None


def tfds_data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")
