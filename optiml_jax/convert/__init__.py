"""Checkpoint conversion: HF and metaseq OPT weights → t5x Orbax checkpoints → HF again.

Python API (the CLI `python -m optiml_jax.convert {hf,metaseq,export-hf}` calls the same):

    convert_hf(src, dest, dtype=..., scan_layers=True)       HF directory → DEST/checkpoint_0
    convert_metaseq(src, dest, config, dtype=..., ...)        metaseq model-parallel parts → same
    export_hf(src, dest, dtype=..., max_shard_size=...)       t5x checkpoint → HF safetensors dir
    load_hf(src, dtype=...)                                   HF directory → (OPTConfig, params)

The default layout is the stacked one that every gin/models/ file sets (`scan_layers = True`), so
t5x restores it as written; `scan_layers=False` writes `layers_<i>` (see `importer`). Restore a
converted checkpoint with `optiml_jax.checkpoints.restore_params`, which converts between the two.
"""

from __future__ import annotations

from pathlib import Path

import jax

from optiml_jax.convert.export import export_hf
from optiml_jax.convert.hf import ConversionError, params_from_hf_state_dict
from optiml_jax.convert.importer import IMPORT_DTYPES, write_checkpoint
from optiml_jax.convert.metaseq import MetaseqParts, resolve_config
from optiml_jax.convert.report import ConversionSummary
from optiml_jax.convert.sources import HFCheckpoint, numpy_dtype, read_hf_config
from optiml_jax.models.configs import OPTConfig

__all__ = ["ConversionError", "ConversionSummary", "convert_hf", "convert_metaseq", "export_hf",
           "load_hf"]


def _hf_config(src: str | Path) -> OPTConfig:
    fields = read_hf_config(src)
    try:
        return OPTConfig.from_hf_config(fields)
    except ValueError as e:
        raise ConversionError(f"{Path(src) / 'config.json'}: {e}") from None


def convert_hf(src: str | Path, dest: str | Path, *, dtype: str = "float32",
               scan_layers: bool = True, progress: bool = True) -> ConversionSummary:
    """An HF OPT directory (config.json + safetensors or .bin, sharded or not) → DEST."""
    config = _hf_config(src)
    return write_checkpoint(HFCheckpoint(src), config, dest, dtype=dtype, scan_layers=scan_layers,
                            tokenizer_dir=src, progress=progress, description="hf → orbax")


def convert_metaseq(src: str | Path, dest: str | Path, config: str | OPTConfig, *,
                    dtype: str = "float32", scan_layers: bool = True,
                    tokenizer_dir: str | Path | None = None,
                    progress: bool = True) -> ConversionSummary:
    """metaseq model-parallel part files (a directory or one file) → DEST.

    `config` is a preset name (`opt-30b`), a path to an HF `config.json`, or an `OPTConfig`.
    """
    config = resolve_config(config)
    parts = MetaseqParts(src, config)
    summary = write_checkpoint(parts, config, dest, dtype=dtype, scan_layers=scan_layers,
                               tokenizer_dir=tokenizer_dir, progress=progress,
                               description="metaseq → orbax")
    summary.notes += parts.notes
    return summary


def load_hf(src: str | Path, *, dtype: str = "float32") -> tuple[OPTConfig, dict]:
    """An HF OPT directory as in-memory unscanned params (notebooks, small models).

    Holds the whole HF state dict and the params at once; use `convert_hf` for large models.
    """
    if dtype not in IMPORT_DTYPES:
        raise ConversionError(f"dtype={dtype!r}; choose one of {IMPORT_DTYPES}.")
    config, source = _hf_config(src), HFCheckpoint(src)
    params = params_from_hf_state_dict({key: source.read(key) for key in source.tensors}, config,
                                       source=str(src))
    return config, jax.tree.map(lambda x: x.astype(numpy_dtype(dtype), copy=False), params)
