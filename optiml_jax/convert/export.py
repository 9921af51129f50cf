"""A t5x checkpoint → an HF `OPTForCausalLM` directory (to serve a fine-tuned model).

Writes `config.json` (`OPTConfig.to_hf_config()` plus `torch_dtype`), sharded
`model-0000i-of-0000n.safetensors` with `model.safetensors.index.json`, and the tokenizer files
found next to the checkpoint. One output shard is in memory at a time: its params are read from
the checkpoint (Orbax partial restore), transposed back to torch layout, cast, and written.
A scanned checkpoint is read one stacked leaf at a time, so its shards group tensors by kind
rather than by layer (HF's index maps every tensor to its file, so the order does not matter).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from optiml_jax.checkpoints import (check_stored_params, config_dir, is_scanned, load_config,
                                    read_leaves, resolve_step_dir, stored_param_shapes)
from optiml_jax.convert.hf import ConversionError, LeafGroup, TensorMapping, leaf_groups
from optiml_jax.convert.report import ConversionSummary, progress_bar
from optiml_jax.convert.sources import copy_tokenizer_files, numpy_dtype
from optiml_jax.sizes import parse_bytes

EXPORT_DTYPES = ("float32", "bfloat16", "float16")
INDEX_FILE = "model.safetensors.index.json"


def parse_size(size: int | str) -> int:
    """`5GB` (10^9), `500MiB` (2^20), or a plain number of bytes (HF's `max_shard_size` syntax)."""
    if isinstance(size, int):
        return size
    try:
        return parse_bytes(size)
    except ValueError as error:
        raise ConversionError(f"max_shard_size: {error}") from None


def _plan_shards(groups: list[LeafGroup], itemsize: int, max_bytes: int
                 ) -> list[list[tuple[LeafGroup, int, TensorMapping]]]:
    """Consecutive tensors in shards of at most `max_bytes` (a bigger tensor goes alone)."""
    shards, current, current_bytes = [], [], 0
    for group in groups:
        for layer, mapping in enumerate(group.mappings):
            size = int(np.prod(mapping.hf_shape)) * itemsize
            if current and current_bytes + size > max_bytes:
                shards.append(current)
                current, current_bytes = [], 0
            current.append((group, layer, mapping))
            current_bytes += size
    return shards + [current] if current else shards


def export_hf(src: str | Path, dest: str | Path, *, dtype: str | None = None,
              max_shard_size: int | str = "5GB", progress: bool = True) -> ConversionSummary:
    """Writes the checkpoint at SRC (MODEL_DIR or a `checkpoint_<step>` dir) as an HF directory.

    `dtype` None keeps the stored dtype (float32 checkpoints export bit for bit).
    """
    from safetensors.numpy import save_file

    directory = resolve_step_dir(src)
    config = load_config(directory)
    stored = stored_param_shapes(directory)
    groups = leaf_groups(config, is_scanned(stored))
    check_stored_params(directory, stored, config)
    if dtype is None:
        stored_dtypes = {np.dtype(d).name for _, d in stored.values()}
        if len(stored_dtypes) != 1:
            raise ConversionError(f"{directory}: params are stored in several dtypes "
                                  f"{sorted(stored_dtypes)}; choose one with dtype=.")
        dtype = stored_dtypes.pop()
    if dtype not in EXPORT_DTYPES:
        raise ConversionError(f"dtype={dtype!r}; choose one of {EXPORT_DTYPES}.")
    out_dtype = numpy_dtype(dtype)
    shards = _plan_shards(groups, out_dtype.itemsize, parse_size(max_shard_size))

    dest = Path(dest)
    stale = sorted(p.name for p in dest.glob("*.safetensors")) if dest.is_dir() else []
    if stale or (dest / INDEX_FILE).exists():
        raise FileExistsError(f"{dest} already holds weights ({stale[:3]}…); remove them or export "
                              f"elsewhere, so old shards cannot mix with new ones.")
    dest.mkdir(parents=True, exist_ok=True)
    weight_map, files, total_bytes, num_params = {}, [], 0, 0
    cached_leaf: tuple[tuple[str, ...], np.ndarray] | None = None  # the stacked leaf being split
    with progress_bar(sum(len(s) for s in shards), "orbax → hf", progress) as bar:
        for index, shard in enumerate(shards, start=1):
            name = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
            bar.set_postfix_str(name, refresh=False)
            wanted = list(dict.fromkeys(g.flax_path for g, _, _ in shard))
            if cached_leaf is not None and cached_leaf[0] not in wanted:
                cached_leaf = None
            leaves = read_leaves(directory, [p for p in wanted
                                             if cached_leaf is None or p != cached_leaf[0]])
            tensors = {}
            for group, layer, mapping in shard:
                if group.stacked:
                    if cached_leaf is None or cached_leaf[0] != group.flax_path:
                        cached_leaf = (group.flax_path, leaves.pop(group.flax_path))
                    value = cached_leaf[1][layer]
                else:
                    value = leaves.pop(group.flax_path)
                hf_key = f"model.{mapping.hf_key}"
                tensors[hf_key] = np.ascontiguousarray(mapping.to_hf(value).astype(out_dtype,
                                                                                   copy=False))
                weight_map[hf_key] = name
                total_bytes += tensors[hf_key].nbytes
                num_params += tensors[hf_key].size
                bar.update()
            save_file(tensors, dest / name, metadata={"format": "pt"})
            files.append(dest / name)
            del tensors, leaves

    index_path = dest / INDEX_FILE
    index_path.write_text(json.dumps({"metadata": {"total_size": total_bytes},
                                      "weight_map": weight_map}, indent=2) + "\n")
    config_path = dest / "config.json"
    config_path.write_text(json.dumps({**config.to_hf_config(), "torch_dtype": dtype},
                                      indent=2, sort_keys=True) + "\n")
    files += [index_path, config_path]
    files += copy_tokenizer_files(config_dir(directory), dest)
    return ConversionSummary(dest, num_params, total_bytes, dtype, files)
