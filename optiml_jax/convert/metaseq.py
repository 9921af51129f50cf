"""metaseq model-parallel part files → the HF-named tensors of one merged model.

A part file (`…-model_part-<rank>.pt`, or a single `reshard.pt`) is a torch pickle dict whose
`"model"` entry is that rank's state dict in metaseq names. Ranks split tensors Megatron-style,
so they are merged per tensor kind (the rules of metaseq's `scripts/reshard_mp.py`):

  * concatenated along dim 0: `embed_tokens`, `fc1` (weight, bias), `q/k/v_proj` (weight, bias);
  * concatenated along dim 1: `fc2.weight`, `out_proj.weight`;
  * shared (rank 0's copy; every rank must hold the same values): `embed_positions`, every
    LayerNorm, `fc2.bias`, `out_proj.bias`, `project_in_dim` / `project_out_dim` (OPT-350m).

Sequence-parallel checkpoints (OPT-IML) fuse attention into `self_attn.qkv_proj`, and each rank
holds its own `[K_r; V_r; Q_r]` stack (K, V, Q order despite the name). Each rank's tensor is split
in thirds first and the thirds are concatenated per projection; concatenating the fused tensors
across ranks would interleave `K0 V0 Q0 K1 V1 Q1`, which is wrong.

Parts may still be FSDP-flattened (`<module>.flat_param_<n>` plus `shard_metadata`, as training
wrote them), one file per rank or several `-shard<s>` files per rank: the flat parameters are joined
across shards (each shard's padding removed) and cut into the named tensors the metadata lists,
as metaseq's `scripts/reshard_fsdp.py` does.

Renamed to HF: `layer_norm` → `final_layer_norm`, `project_{in,out}_dim` → `project_{in,out}`.
Dropped: `decoder.version` and `decoder.output_projection.weight` (the tied embedding; checked
equal). metaseq may pad the vocabulary rows for model parallelism; rows beyond the config's
`vocab_size` are dropped and reported.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from optiml_jax.convert.hf import ConversionError
from optiml_jax.convert.sources import (TensorInfo, import_torch, load_torch_file,
                                        torch_tensor_info, torch_to_numpy)
from optiml_jax.models.configs import PRESETS, OPTConfig, get_config

_PART_FILE = re.compile(r"model_part-(\d+)(?:-shard(\d+))?\.pt$")
_FLAT_PARAM = re.compile(r"(?:^|\.)flat_param_\d+$")
_LAYER = re.compile(r"^decoder\.layers\.(\d+)\.")

CONCAT_ROWS, CONCAT_COLUMNS = "concat dim 0", "concat dim 1"
SHARED, FUSED_KVQ = "shared", "fused kvq"
_RULES = (  # (metaseq key, how ranks merge, HF key); first match wins
    (r"decoder\.embed_tokens\.weight", CONCAT_ROWS, r"\g<0>"),
    (r"decoder\.embed_positions\.weight", SHARED, r"\g<0>"),
    (r"decoder\.project_(in|out)_dim\.weight", SHARED, r"decoder.project_\1.weight"),
    (r"decoder\.layer_norm\.(weight|bias)", SHARED, r"decoder.final_layer_norm.\1"),
    (r"(decoder\.layers\.\d+\.self_attn)\.qkv_proj\.(weight|bias)", FUSED_KVQ, r"\1.{}_proj.\2"),
    (r"decoder\.layers\.\d+\.self_attn\.[qkv]_proj\.(weight|bias)", CONCAT_ROWS, r"\g<0>"),
    (r"decoder\.layers\.\d+\.fc1\.(weight|bias)", CONCAT_ROWS, r"\g<0>"),
    (r"decoder\.layers\.\d+\.(self_attn\.out_proj|fc2)\.weight", CONCAT_COLUMNS, r"\g<0>"),
    (r"decoder\.layers\.\d+\.(self_attn\.out_proj|fc2)\.bias", SHARED, r"\g<0>"),
    (r"decoder\.layers\.\d+\.(self_attn_layer_norm|final_layer_norm)\.(weight|bias)", SHARED,
     r"\g<0>"),
)
_FUSED_ORDER = ("k", "v", "q")  # the thirds of each rank's qkv_proj
_TIED_OUTPUT = "decoder.output_projection.weight"
_DROPPED = ("decoder.version", _TIED_OUTPUT)


def resolve_config(config: str | Path | OPTConfig) -> OPTConfig:
    """A preset name (`opt-30b`), a path to an HF `config.json`, or an `OPTConfig` as is."""
    if isinstance(config, OPTConfig):
        return config
    if str(config).lower().removeprefix("facebook/") in PRESETS:
        return get_config(str(config))
    path = Path(config)
    if not path.is_file():
        raise ConversionError(f"--config {config!r} is neither a preset ({sorted(PRESETS)}) nor a "
                              f"config.json file.")
    try:
        return OPTConfig.from_hf_config(json.loads(path.read_text()))
    except (ValueError, json.JSONDecodeError) as e:
        raise ConversionError(f"{path}: {e}") from None


@dataclasses.dataclass(frozen=True)
class _Merge:
    """How one HF tensor is assembled from the ranks' copies of a metaseq tensor."""

    source_key: str
    rule: str
    third: int | None = None        # FUSED_KVQ: which third of each rank's tensor (K=0, V=1, Q=2)
    keep_rows: int | None = None    # embed_tokens: drop vocabulary padding beyond this many rows


@dataclasses.dataclass(frozen=True)
class _FlatSlice:
    """Where an unflattened tensor lives inside a rank's FSDP flat parameter."""

    flat_key: str
    start: int
    shape: tuple[int, ...]


class _Rank:
    """One model-parallel rank: a plain state dict, or FSDP shard files holding flat parameters."""

    def __init__(self, rank: int, files: list[Path]):
        self.rank, self.files = rank, files
        self.name = files[0].name if len(files) == 1 else f"{files[0].name} … {files[-1].name}"
        states = [self.load(path) for path in files]
        flat = [k for k in states[0]["model"] if _FLAT_PARAM.search(k)]
        self.flat = bool(flat)
        if not self.flat:
            if len(files) > 1:
                raise ConversionError(f"{self.name}: several shard files for rank {rank}, but they "
                                      f"hold no FSDP flat parameters to join.")
            self.catalog = {k: torch_tensor_info(v, str(files[0]), k)
                            for k, v in states[0]["model"].items()}
            return
        self._plan_unflatten(states)

    @staticmethod
    def load(path: Path) -> dict:
        state = load_torch_file(path)
        if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
            raise ConversionError(f"{path}: not a metaseq part file (no 'model' state dict).")
        return state

    def _plan_unflatten(self, states: list[dict]) -> None:
        """Catalogs the named tensors inside the flat parameters, from each shard's metadata."""
        self.slices: dict[str, _FlatSlice] = {}
        self.pieces: dict[str, list[tuple[int, int]]] = {}  # flat key → (shard, valid length)
        self.catalog = {}
        for shard, (path, state) in enumerate(zip(self.files, states)):
            if "shard_metadata" not in state:
                raise ConversionError(f"{path}: FSDP flat parameters without 'shard_metadata'; "
                                      f"cannot tell which tensors they hold.")
            for entry in state["shard_metadata"]["param_metadata"]:
                for flat_name, info in entry["params"].items():
                    flat_key = f"{entry['fsdp_path']}.{flat_name}".lstrip(".")
                    if flat_key not in state["model"]:
                        raise ConversionError(f"{path}: metadata lists {flat_key}, the file "
                                              f"lacks it.")
                    length = state["model"][flat_key].numel() - info["padding"]
                    self.pieces.setdefault(flat_key, []).append((shard, length))
                    if shard:
                        continue
                    start = 0
                    for name, shape, numel in zip(info["names"], info["shapes"], info["numels"]):
                        key = f"{entry['fsdp_path']}.{name}".lstrip(".")
                        dtype = str(state["model"][flat_key].dtype).removeprefix("torch.")
                        self.slices[key] = _FlatSlice(flat_key, start, tuple(shape))
                        self.catalog[key] = TensorInfo(tuple(shape), dtype, self.name)
                        start += numel
        for flat_key, pieces in self.pieces.items():
            total = sum(length for _, length in pieces)
            used = max((s.start + int(np.prod(s.shape)) for s in self.slices.values()
                        if s.flat_key == flat_key), default=0)
            if len(pieces) != len(self.files) or used != total:
                raise ConversionError(f"{self.name}: {flat_key} holds {total} values across "
                                      f"{len(pieces)} shard(s), its metadata describes {used}; "
                                      f"are all FSDP shards of rank {self.rank} present?")
        for name in states[0]["shard_metadata"].get("buffer_names", []):  # unsharded, on shard 0
            self.catalog[name] = torch_tensor_info(states[0]["model"][name], str(self.files[0]),
                                                   name)

    def tensor(self, states: list[dict], key: str):
        """The named tensor (a lazy view into the memory-mapped file where possible)."""
        if not self.flat or key not in self.slices:
            return states[0]["model"][key]
        torch = import_torch()
        where = self.slices[key]
        stop = where.start + int(np.prod(where.shape))
        chunks, offset = [], 0
        for shard, length in self.pieces[where.flat_key]:
            lo, hi = max(where.start, offset), min(stop, offset + length)
            if lo < hi:
                chunks.append(states[shard]["model"][where.flat_key][lo - offset:hi - offset])
            offset += length
        flat = chunks[0] if len(chunks) == 1 else torch.cat(chunks)
        return flat.view(where.shape)


def _find_ranks(src: Path) -> list[_Rank]:
    files = [src] if src.is_file() else sorted(src.glob("*.pt"))
    if not files:
        raise ConversionError(f"{src}: no metaseq part files (*.pt).")
    numbered = [(f, _PART_FILE.search(f.name)) for f in files]
    if not any(match for _, match in numbered):
        if len(files) > 1:
            raise ConversionError(f"{src}: several .pt files but none named *-model_part-<n>.pt; "
                                  f"pass the single consolidated file instead.")
        return [_Rank(0, files)]
    stray = [f.name for f, match in numbered if not match]
    if stray:
        raise ConversionError(f"{src}: {stray} do not look like model-parallel parts; move them "
                              f"away so the parts are unambiguous.")
    by_rank: dict[int, list[tuple[int, Path]]] = {}
    for f, match in numbered:
        by_rank.setdefault(int(match.group(1)), []).append((int(match.group(2) or 0), f))
    missing = sorted(set(range(max(by_rank) + 1)) - by_rank.keys())
    if missing:
        raise ConversionError(f"{src}: model-parallel part(s) {missing} are missing "
                              f"(found {sorted(by_rank)}).")
    ranks = []
    for rank in sorted(by_rank):
        shards = sorted(by_rank[rank])
        if [s for s, _ in shards] != list(range(len(shards))):
            raise ConversionError(f"{src}: rank {rank} has FSDP shards {[s for s, _ in shards]}; "
                                  f"expected 0…{len(shards) - 1}.")
        ranks.append(_Rank(rank, [f for _, f in shards]))
    return ranks


class MetaseqParts:
    """The merged model of all ranks, as an HF-named `TensorSource`."""

    def __init__(self, src: str | Path, config: OPTConfig):
        self.src = Path(src)
        self.ranks = _find_ranks(self.src)
        self.largest_file_bytes = max(f.stat().st_size for r in self.ranks for f in r.files)
        self.notes: list[str] = []
        first = self.ranks[0]
        for rank in self.ranks[1:]:
            if rank.catalog.keys() != first.catalog.keys():
                diff = sorted(rank.catalog.keys() ^ first.catalog.keys())
                raise ConversionError(f"{rank.name} and {first.name} hold different tensors "
                                      f"({diff[:5]}); are they parts of the same checkpoint?")
        self.tensors: dict[str, TensorInfo] = {}
        self._merges: dict[str, _Merge] = {}
        for key in first.catalog:
            if key in _DROPPED:
                continue
            for pattern, rule, target in _RULES:
                if re.fullmatch(pattern, key):
                    self._add(key, rule, re.sub(pattern, target, key), config)
                    break
            else:
                raise ConversionError(f"{first.name}: unknown metaseq tensor {key}; it is not part "
                                      f"of an OPT decoder.")
        self._open_layer: int | None = None
        self._open_states: list[list[dict]] = []

    def _origin(self, key: str) -> str:
        names = [r.name for r in self.ranks]
        files = names[0] + (f" … {names[-1]}" if len(names) > 1 else "")
        return f"{files} (metaseq {key})"

    def _add(self, key: str, rule: str, hf_key: str, config: OPTConfig) -> None:
        shapes = [r.catalog[key].shape for r in self.ranks]
        shape, dtype = shapes[0], self.ranks[0].catalog[key].dtype
        if any(s != shape for s in shapes):
            raise ConversionError(f"{self._origin(key)}: ranks disagree on its shape {shapes}.")
        n = len(self.ranks)
        if rule == FUSED_KVQ:
            if shape[0] % 3:
                raise ConversionError(f"{self._origin(key)}: fused qkv_proj has {shape[0]} rows, "
                                      f"not divisible into K, V, Q thirds.")
            for third, name in enumerate(_FUSED_ORDER):
                merged = (n * shape[0] // 3, *shape[1:])
                self._register(hf_key.format(name), _Merge(key, rule, third), merged, dtype)
            return
        if rule == CONCAT_ROWS:
            merged, keep = (n * shape[0], *shape[1:]), None
            if hf_key == "decoder.embed_tokens.weight" and merged[0] > config.vocab_size:
                keep = config.vocab_size
                self.notes.append(f"metaseq's embedding has {merged[0]} rows (vocabulary padded "
                                  f"for model parallelism); kept the first {keep} = vocab_size.")
                merged = (keep, *merged[1:])
            self._register(hf_key, _Merge(key, rule, keep_rows=keep), merged, dtype)
        elif rule == CONCAT_COLUMNS:
            self._register(hf_key, _Merge(key, rule), (shape[0], n * shape[1]), dtype)
        else:
            self._register(hf_key, _Merge(key, rule), shape, dtype)

    def _register(self, hf_key: str, merge: _Merge, shape: tuple, dtype: str) -> None:
        self.tensors[hf_key] = TensorInfo(tuple(shape), dtype, self._origin(merge.source_key))
        self._merges[hf_key] = merge

    def _states(self, key: str) -> list[list[dict]]:
        """Every rank's files, memory-mapped (only the pages of tensors read become resident).

        A layer's files stay mapped while its tensors are read, then are reopened for the next
        layer so finished layers' pages go. The embeddings and final norm are few but large:
        they are mapped just for their own read, so their pages are gone before the cast.
        """
        match = _LAYER.match(key)
        layer = int(match.group(1)) if match else None
        if layer is not None and layer == self._open_layer:
            return self._open_states
        self._open_states, self._open_layer = [], layer  # unmaps the previous files first
        states = [[_Rank.load(f) for f in r.files] for r in self.ranks]
        if layer is not None:
            self._open_states = states
        return states

    def read(self, hf_key: str) -> np.ndarray:
        torch = import_torch()
        merge = self._merges[hf_key]
        states = self._states(merge.source_key)
        pieces = [r.tensor(s, merge.source_key) for r, s in zip(self.ranks, states)]
        if merge.rule == SHARED:
            for rank, piece in zip(self.ranks[1:], pieces[1:]):
                if not torch.equal(piece, pieces[0]):
                    diff = (piece.float() - pieces[0].float()).abs().max().item()
                    raise ConversionError(f"{self._origin(merge.source_key)}: must be identical on "
                                          f"every rank, but {rank.name} differs from rank 0 by up "
                                          f"to {diff:.3g}; are the parts from one checkpoint?")
            return torch_to_numpy(pieces[0])  # a copy: the pieces are views of mapped files
        if merge.source_key == "decoder.embed_tokens.weight":
            self._check_tied_output(states, pieces)
        if merge.rule == FUSED_KVQ:
            pieces = [p.view(3, p.shape[0] // 3, *p.shape[1:])[merge.third] for p in pieces]
        merged = torch.cat(pieces, dim=1 if merge.rule == CONCAT_COLUMNS else 0)
        if merge.keep_rows is not None:
            merged = merged[:merge.keep_rows]
        return torch_to_numpy(merged, copy=False)  # `cat` already made a private tensor

    def _check_tied_output(self, states, embed_pieces) -> None:
        torch = import_torch()
        for rank, state, embed in zip(self.ranks, states, embed_pieces):
            if _TIED_OUTPUT in rank.catalog and not torch.equal(rank.tensor(state, _TIED_OUTPUT),
                                                                embed):
                raise ConversionError(f"{rank.name}: {_TIED_OUTPUT} differs from "
                                      f"decoder.embed_tokens.weight; OPT ties them, an untied head "
                                      f"is not supported.")
