"""Where checkpoint tensors come from: HF checkpoint directories, read one tensor at a time.

A source lists every tensor (name, shape, dtype, file) from file headers before any data is read,
so key and shape errors surface before anything is written, and hands out one tensor at a time
as a private numpy copy. Files are opened per tensor: the memory-mapped pages of a tensor are
released as soon as it is copied, so reading a shard never keeps the shard resident.

Pickled PyTorch files are only ever read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path
from typing import Protocol

import ml_dtypes
import numpy as np
from etils import epath

from optiml_jax.convert.hf import ConversionError

# Weight files in order of preference: (index file, single-file name).
HF_WEIGHT_FORMATS = (
    ("model.safetensors.index.json", "model.safetensors"),
    ("pytorch_model.bin.index.json", "pytorch_model.bin"),
)
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json")
_SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str   # numpy name: float16, bfloat16, float32
    origin: str  # the file (or files) it is read from, for error messages


class TensorSource(Protocol):
    """What the importer needs from a checkpoint: a catalog and one-tensor reads."""

    tensors: dict[str, TensorInfo]  # HF key → info, in the order reads are cheapest
    largest_file_bytes: int

    def read(self, key: str) -> np.ndarray:
        """A private copy of one tensor, in its stored dtype."""


def numpy_dtype(name: str) -> np.dtype:
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


# --- PyTorch pickles ------------------------------------------------------------------------------

def import_torch():
    try:
        import torch
    except ImportError as e:
        raise ConversionError("Reading PyTorch .bin/.pt files needs torch: "
                              "pip install 'optiml_jax[convert]'.") from e
    return torch


def load_torch_file(path: Path) -> dict:
    """`torch.load(weights_only=True)`, memory-mapped; refusals become a clear error.

    Memory mapping means only the tensors actually copied out are ever read from disk.
    """
    torch = import_torch()
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as e:
        try:
            offending = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # the file may be too broken to list its globals
            offending = []
        raise ConversionError(
            f"{path}: torch.load(weights_only=True) refused this file: it pickles Python objects "
            f"other than tensors and plain containers ({', '.join(offending) or 'see below'}). "
            f"Unpickling them could run arbitrary code, so it is not done. If you trust the file, "
            f"re-save only its tensors in that trusted environment (e.g. as safetensors) and "
            f"convert the result.\n{e}") from None
    except RuntimeError as e:
        raise ConversionError(f"{path}: not a readable PyTorch zip checkpoint ({e}).") from None


def torch_tensor_info(value, origin: str, key: str) -> TensorInfo:
    torch = import_torch()
    if not isinstance(value, torch.Tensor):
        raise ConversionError(f"{origin}: entry {key!r} is a {type(value).__name__}, not a tensor.")
    return TensorInfo(tuple(value.shape), str(value.dtype).removeprefix("torch."), origin)


def torch_to_numpy(tensor, copy: bool = True) -> np.ndarray:
    """A CPU tensor as numpy (bfloat16 becomes ml_dtypes.bfloat16, bit for bit).

    `copy=False` shares the tensor's memory; only safe for tensors that do not view a mapped file.
    """
    torch = import_torch()
    tensor = tensor.detach().contiguous()
    if tensor.dtype == torch.bfloat16:
        array = tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    else:
        array = tensor.numpy()
    return array.copy() if copy else array


# --- HF checkpoint directories --------------------------------------------------------------------

class HFCheckpoint:
    """An HF checkpoint directory's weights: safetensors (preferred) or .bin, one file or shards.

    An index file (`model.safetensors.index.json` / `pytorch_model.bin.index.json`) is honoured:
    every shard it names must exist and hold exactly the tensors it assigns to that shard.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ConversionError(f"{self.directory}: not a directory.")
        self.files, self._index, self._index_map = self._weight_files()
        self.is_safetensors = self.files[0].suffix == ".safetensors"
        self.tensors: dict[str, TensorInfo] = {}
        self._file_of: dict[str, Path] = {}
        for path in self.files:
            for key, info in self._catalog(path).items():
                if key in self.tensors:
                    raise ConversionError(f"{path}: tensor {key} is also in "
                                          f"{self.tensors[key].origin}.")
                self.tensors[key] = info
                self._file_of[key] = path
        self._check_index()
        self.largest_file_bytes = max(p.stat().st_size for p in self.files)

    def _weight_files(self) -> tuple[list[Path], Path | None, dict[str, str] | None]:
        """(weight files, index file, tensor → file name) in order of preference."""
        for index_name, single_name in HF_WEIGHT_FORMATS:
            index = self.directory / index_name
            if index.is_file():
                index_map = self._read_index(index)
                names = list(dict.fromkeys(index_map.values()))
                missing = [n for n in names if not (self.directory / n).is_file()]
                if missing:
                    raise ConversionError(f"{index}: names shard(s) {missing} that do not exist in "
                                          f"{self.directory} (incomplete download?).")
                return [self.directory / n for n in names], index, index_map
            if (self.directory / single_name).is_file():
                return [self.directory / single_name], None, None
        expected = ", ".join(name for pair in HF_WEIGHT_FORMATS for name in pair)
        raise ConversionError(f"{self.directory}: no weights found (looked for {expected}).")

    @staticmethod
    def _read_index(index: Path) -> dict[str, str]:
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ConversionError(f"{index}: not a valid index file ({e!r}).") from None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ConversionError(f"{index}: 'weight_map' must map tensor names to files.")
        return weight_map

    def _check_index(self) -> None:
        if self._index_map is None:
            return
        for key, name in self._index_map.items():
            if key not in self._file_of:
                raise ConversionError(f"{self._index}: lists tensor {key} in {name}, but {name} "
                                      f"does not contain it.")
            if self._file_of[key].name != name:
                raise ConversionError(f"{self._index}: lists tensor {key} in {name}, but it is in "
                                      f"{self._file_of[key].name}.")
        unlisted = [k for k in self.tensors if k not in self._index_map]
        if unlisted:
            raise ConversionError(f"{self._file_of[unlisted[0]]}: holds tensor(s) {unlisted[:5]} "
                                  f"that {self._index.name} does not list.")

    def _catalog(self, path: Path) -> dict[str, TensorInfo]:
        if self.is_safetensors:
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(path, framework="numpy") as f:
                    out = {}
                    for key in f.keys():
                        tensor = f.get_slice(key)
                        dtype = tensor.get_dtype()
                        if dtype not in _SAFETENSORS_DTYPES:
                            raise ConversionError(f"{path}: tensor {key} has unsupported dtype "
                                                  f"{dtype}.")
                        out[key] = TensorInfo(tuple(tensor.get_shape()), _SAFETENSORS_DTYPES[dtype],
                                              str(path))
                    return out
            except SafetensorError as e:
                raise ConversionError(f"{path}: unreadable safetensors file ({e}); it may be "
                                      f"truncated or corrupt, re-download it.") from None
        state = load_torch_file(path)
        if not isinstance(state, dict):
            raise ConversionError(f"{path}: expected a state dict, found a {type(state).__name__}.")
        return {key: torch_tensor_info(value, str(path), key) for key, value in state.items()}

    def read(self, key: str) -> np.ndarray:
        path = self._file_of[key]
        if self.is_safetensors:
            from safetensors import safe_open

            with safe_open(path, framework="numpy") as f:
                return f.get_tensor(key)  # a copy; the file mapping closes with `f`
        return torch_to_numpy(load_torch_file(path)[key])


def read_hf_config(directory: str | Path) -> dict:
    if not Path(directory).is_dir():
        raise ConversionError(f"{directory}: not a directory.")
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise ConversionError(f"{directory}: no config.json; it is needed to know the model's "
                              f"sizes.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConversionError(f"{path}: not valid JSON ({e}).") from None


def copy_tokenizer_files(source_dir: str | os.PathLike, dest_dir: str | os.PathLike
                         ) -> list[epath.Path]:
    """Copies whichever tokenizer files exist in `source_dir` (either may be a `gs://` URI);
    returns the copies."""
    copied = []
    for name in TOKENIZER_FILES:
        source = epath.Path(source_dir) / name
        if source.is_file():
            copied.append(source.copy(epath.Path(dest_dir) / name, overwrite=True))
    return copied
