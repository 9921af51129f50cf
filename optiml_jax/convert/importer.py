"""A checked tensor source (HF files or merged metaseq parts) → a t5x checkpoint directory.

Writes DEST/checkpoint_0/state ({'target': params, 'state': {'step': 0}}), DEST/config.json and the
tokenizer files. Tensors stream through one at a time: read (a private copy), transposed into our
layout, cast to the output dtype, handed to `StreamingParamsWriter`, which flushes them to the
checkpoint in batches of about an eighth of the largest input file.

The default layout is the stacked one of `OPT(scan_layers=True)`, which every gin/models/ file
sets, so t5x (which restores names as they are) loads the checkpoint as converted. A stacked leaf
(one tensor kind over all layers, e.g. 39 GB for OPT-30B's fc1 in float32) is assembled layer by
layer in a memory-mapped scratch file and written from there: resident memory stays near one
tensor plus one write batch, the stack lives in the page cache, and the scratch disk (DEST, or
the system temp dir for a remote DEST) needs room for one stacked leaf. `scan_layers=False` writes
the per-layer layout (`layers_<i>`) without any scratch file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
from etils import epath

from optiml_jax.checkpoints import StreamingParamsWriter, save_config
from optiml_jax.convert.hf import (TIED_HEAD_KEY, ConversionError, leaf_groups, match_hf_tensors,
                                   tensor_mappings)
from optiml_jax.convert.report import ConversionSummary, progress_bar
from optiml_jax.convert.sources import TensorSource, copy_tokenizer_files, numpy_dtype
from optiml_jax.models.configs import OPTConfig

IMPORT_DTYPES = ("float32", "bfloat16")
# Below this, batching more tensors per write saves Orbax's per-write overhead at no real cost.
_MIN_WRITE_BATCH_BYTES = 32 * 2**20


def _digest(array: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(array).view(np.uint8), digest_size=32).digest()


def write_checkpoint(source: TensorSource, config: OPTConfig, dest: str | os.PathLike, *,
                     dtype: str = "float32", scan_layers: bool = True,
                     tokenizer_dir: str | Path | None = None, progress: bool = True,
                     description: str = "convert") -> ConversionSummary:
    """Checks every key and shape of `source` against `config`, then streams it into DEST."""
    if dtype not in IMPORT_DTYPES:
        raise ConversionError(f"dtype={dtype!r}; choose one of {IMPORT_DTYPES}.")
    out_dtype = numpy_dtype(dtype)
    stored = match_hf_tensors({k: info.shape for k, info in source.tensors.items()}, config,
                              origin=lambda key: source.tensors[key].origin)
    # Read in the source's own order (file by file) so each file is visited once.
    position = {key: i for i, key in enumerate(source.tensors)}
    groups = sorted(leaf_groups(config, scan_layers),
                    key=lambda g: position[stored[g.mappings[0].hf_key]])
    dest = epath.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    batch_bytes = max(source.largest_file_bytes // 8, _MIN_WRITE_BATCH_BYTES)

    num_params = 0
    embed_digest = None
    with StreamingParamsWriter(dest, batch_bytes=batch_bytes) as writer, \
            tempfile.TemporaryDirectory(prefix=".stacking-", dir=_scratch_dir(dest)) as scratch, \
            progress_bar(len(tensor_mappings(config)), description, progress) as bar:
        for group in groups:
            leaf = None
            for layer, mapping in enumerate(group.mappings):
                key = stored[mapping.hf_key]
                bar.set_postfix_str(Path(source.tensors[key].origin).name, refresh=False)
                value = source.read(key)
                if value.shape != mapping.hf_shape:  # the file changed since it was catalogued
                    raise ConversionError(f"tensor {key} in {source.tensors[key].origin} read "
                                          f"with shape {value.shape}, its header said "
                                          f"{mapping.hf_shape}.")
                if mapping.hf_key == "decoder.embed_tokens.weight" and TIED_HEAD_KEY in stored:
                    embed_digest = _digest(value)
                converted = mapping.to_flax(value).astype(out_dtype, copy=False)
                del value
                if not group.stacked:
                    leaf = converted
                else:  # filled layer by layer: never two copies of a stacked leaf
                    if leaf is None:
                        stack_file = Path(scratch) / f"{'.'.join(group.flax_path)}.npy"
                        leaf = np.lib.format.open_memmap(
                            stack_file, mode="w+", dtype=out_dtype,
                            shape=(len(group.mappings), *converted.shape))
                    leaf[layer] = converted
                del converted
                bar.update()
            num_params += leaf.size
            writer.add(group.flax_path, leaf)
            del leaf
            if group.stacked:  # written now: its scratch file is no longer needed
                writer.flush()
                stack_file.unlink()
        if TIED_HEAD_KEY in stored and _digest(source.read(stored[TIED_HEAD_KEY])) != embed_digest:
            raise ConversionError(f"{source.tensors[stored[TIED_HEAD_KEY]].origin}: lm_head.weight "
                                  f"differs from decoder.embed_tokens.weight; OPT ties them, an "
                                  f"untied head is not supported.")
        checkpoint_dir = writer.close()
        num_bytes = writer.bytes_written
    files = [checkpoint_dir, save_config(dest, config)]
    if tokenizer_dir is not None:
        files += copy_tokenizer_files(tokenizer_dir, dest)
    return ConversionSummary(dest, num_params, num_bytes, dtype, files)


def _scratch_dir(dest: epath.Path) -> str | None:
    """Where stacked leaves are assembled: DEST itself when local (the checkpoint's own disk),
    else the system temp dir (None: `tempfile`'s default, which TMPDIR sets)."""
    return None if "://" in os.fspath(dest) else os.fspath(dest)
