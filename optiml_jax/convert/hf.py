"""Tensor-by-tensor mapping between HF `OPTForCausalLM` state dicts and our Flax params.

Every HF tensor has exactly one Flax leaf; `tensor_mappings(config)` lists them all with the
expected shapes on both sides, so conversion checks every key and every shape and names the one
that failed (nanoGPT's `from_pretrained` discipline). Torch `Linear.weight` is `[out, in]`; our
kernels are `[in, out]`, with attention kernels split per head (`[embed, heads, head_dim]` and
`[heads, head_dim, embed]`) so heads can be sharded by name.

With `scan_layers=True` a checkpoint leaf stacks one tensor kind over all layers; `leaf_groups`
lists which HF tensors make up each leaf in either layout.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Mapping

import numpy as np

from optiml_jax.models.configs import OPTConfig

Params = dict
TIED_HEAD_KEY = "lm_head.weight"


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message names the tensor and the file."""


@dataclasses.dataclass(frozen=True)
class TensorMapping:
    hf_key: str                      # HF key without the optional leading "model."
    flax_path: tuple[str, ...]       # path in the (unscanned) Flax params tree
    hf_shape: tuple[int, ...]
    flax_shape: tuple[int, ...]
    to_flax: Callable[[np.ndarray], np.ndarray]
    to_hf: Callable[[np.ndarray], np.ndarray]


def _same(x):
    return x


def _linear(in_dim: int, out_dim: int, hf_key: str, path: tuple[str, ...]) -> TensorMapping:
    return TensorMapping(hf_key, path, (out_dim, in_dim), (in_dim, out_dim),
                         lambda w: np.ascontiguousarray(w.T), lambda k: np.ascontiguousarray(k.T))


def tensor_mappings(config: OPTConfig) -> list[TensorMapping]:
    """Every tensor of an HF OPT checkpoint for `config`, in checkpoint order."""
    d, f, dp = config.hidden_size, config.ffn_dim, config.word_embed_proj_dim
    h, hd = config.num_heads, config.head_dim
    out: list[TensorMapping] = [
        TensorMapping("decoder.embed_tokens.weight", ("embed_tokens", "embedding"),
                      (config.vocab_size, dp), (config.vocab_size, dp), _same, _same),
        TensorMapping("decoder.embed_positions.weight", ("embed_positions", "embedding"),
                      (config.position_table_size, d), (config.position_table_size, d),
                      _same, _same),
    ]
    if config.projects_embeddings:
        out.append(_linear(dp, d, "decoder.project_in.weight", ("project_in", "kernel")))
        out.append(_linear(d, dp, "decoder.project_out.weight", ("project_out", "kernel")))

    def layer_norm(hf_prefix: str, path: tuple[str, ...]) -> list[TensorMapping]:
        if not config.layer_norm_elementwise_affine:
            return []
        return [TensorMapping(f"{hf_prefix}.weight", (*path, "scale"), (d,), (d,), _same, _same),
                TensorMapping(f"{hf_prefix}.bias", (*path, "bias"), (d,), (d,), _same, _same)]

    for i in range(config.num_layers):
        hf, fx = f"decoder.layers.{i}", (f"layers_{i}",)
        for name in ("q_proj", "k_proj", "v_proj"):
            path = (*fx, "self_attn", name)
            out.append(TensorMapping(
                f"{hf}.self_attn.{name}.weight", (*path, "kernel"), (d, d), (d, h, hd),
                lambda w: np.ascontiguousarray(w.T).reshape(d, h, hd),
                lambda k: np.ascontiguousarray(k.reshape(d, d).T)))
            if config.enable_bias:
                out.append(TensorMapping(f"{hf}.self_attn.{name}.bias", (*path, "bias"), (d,),
                                         (h, hd), lambda b: b.reshape(h, hd),
                                         lambda b: b.reshape(d)))
        path = (*fx, "self_attn", "out_proj")
        out.append(TensorMapping(
            f"{hf}.self_attn.out_proj.weight", (*path, "kernel"), (d, d), (h, hd, d),
            lambda w: np.ascontiguousarray(w.T).reshape(h, hd, d),
            lambda k: np.ascontiguousarray(k.reshape(d, d).T)))
        if config.enable_bias:
            out.append(TensorMapping(f"{hf}.self_attn.out_proj.bias", (*path, "bias"), (d,), (d,),
                                     _same, _same))
        out += layer_norm(f"{hf}.self_attn_layer_norm", (*fx, "self_attn_layer_norm"))
        for name, (n_in, n_out) in (("fc1", (d, f)), ("fc2", (f, d))):
            out.append(_linear(n_in, n_out, f"{hf}.{name}.weight", (*fx, name, "kernel")))
            if config.enable_bias:
                out.append(TensorMapping(f"{hf}.{name}.bias", (*fx, name, "bias"), (n_out,),
                                         (n_out,), _same, _same))
        out += layer_norm(f"{hf}.final_layer_norm", (*fx, "final_layer_norm"))
    if config.has_final_layer_norm:
        out += layer_norm("decoder.final_layer_norm", ("final_layer_norm",))
    return out


def canonical_hf_key(key: str) -> str | None:
    """Strip the `model.` prefix (OPTForCausalLM) so OPTModel checkpoints map the same way.

    Returns None for the tied `lm_head.weight`, which is checked separately.
    """
    if key == TIED_HEAD_KEY:
        return None
    return key.removeprefix("model.")


def match_hf_tensors(shapes: Mapping[str, tuple[int, ...]], config: OPTConfig,
                     origin: Callable[[str], str]) -> dict[str, str]:
    """Checks a catalog of HF tensors (key → shape) against `config`, before any data is read.

    Every tensor the config needs must be present exactly once (with or without the `model.`
    prefix), nothing else may be, and every shape must match; `origin(key)` names the file a
    tensor came from in the error. Returns canonical key → key as stored, plus `lm_head.weight`
    when the checkpoint stores the tied head (the caller checks it equals the embedding).
    """
    stored: dict[str, str] = {}
    for key in shapes:
        canonical = canonical_hf_key(key) or TIED_HEAD_KEY
        if canonical in stored:
            raise ConversionError(f"tensor {canonical} is stored twice: as {stored[canonical]} in "
                                  f"{origin(stored[canonical])} and as {key} in {origin(key)}.")
        stored[canonical] = key
    mappings = tensor_mappings(config)
    expected = {m.hf_key for m in mappings}
    unexpected = sorted(stored.keys() - expected - {TIED_HEAD_KEY})
    if unexpected:
        shown = ", ".join(f"{stored[k]} (in {origin(stored[k])})" for k in unexpected[:5])
        raise ConversionError(f"{len(unexpected)} tensor(s) are not part of an OPT model with this "
                              f"config: {shown}{' …' if len(unexpected) > 5 else ''}. Does the "
                              f"config describe these weights?")
    missing = sorted(expected - stored.keys())
    if missing:
        raise ConversionError(f"{len(missing)} tensor(s) that the config needs are missing: "
                              f"{missing[:5]}{' …' if len(missing) > 5 else ''}. Does the config "
                              f"describe these weights, and is every file present?")
    required = [(m.hf_key, m.hf_shape) for m in mappings]
    if TIED_HEAD_KEY in stored:
        required.append((TIED_HEAD_KEY, (config.vocab_size, config.word_embed_proj_dim)))
    for key, shape in required:
        if tuple(shapes[stored[key]]) != shape:
            raise ConversionError(f"tensor {stored[key]} in {origin(stored[key])} has shape "
                                  f"{tuple(shapes[stored[key]])}, but the config expects {shape} "
                                  f"(hidden_size={config.hidden_size}, ffn_dim={config.ffn_dim}, "
                                  f"vocab_size={config.vocab_size}, num_heads={config.num_heads}).")
    return stored


@dataclasses.dataclass(frozen=True)
class LeafGroup:
    """One checkpoint leaf and the HF tensors it holds (one per layer, in order, when stacked)."""

    flax_path: tuple[str, ...]
    mappings: tuple[TensorMapping, ...]

    @property
    def stacked(self) -> bool:
        return self.flax_path[0] == "layers"


def leaf_groups(config: OPTConfig, scan_layers: bool) -> list[LeafGroup]:
    """Every checkpoint leaf in the requested layout, in HF checkpoint order of first tensor."""
    groups: dict[tuple[str, ...], list[TensorMapping]] = {}
    for m in tensor_mappings(config):
        in_block = m.flax_path[0].startswith("layers_")
        path = ("layers", *m.flax_path[1:]) if scan_layers and in_block else m.flax_path
        groups.setdefault(path, []).append(m)
    return [LeafGroup(path, tuple(ms)) for path, ms in groups.items()]


def _set(tree: dict, path: Iterable[str], value) -> None:
    *parents, leaf = path
    for name in parents:
        tree = tree.setdefault(name, {})
    tree[leaf] = value


def _get(tree: Mapping, path: Iterable[str]):
    for name in path:
        tree = tree[name]
    return tree


def params_from_hf_state_dict(state_dict: Mapping[str, np.ndarray], config: OPTConfig,
                              source: str = "state dict") -> Params:
    """Unscanned Flax params from a full HF state dict (numpy arrays), every key/shape checked."""
    stored = match_hf_tensors({k: np.shape(v) for k, v in state_dict.items()}, config,
                              origin=lambda key: source)
    params: Params = {}
    for m in tensor_mappings(config):
        _set(params, m.flax_path, m.to_flax(np.asarray(state_dict[stored[m.hf_key]])))
    if TIED_HEAD_KEY in stored:
        embed = state_dict[stored["decoder.embed_tokens.weight"]]
        if not np.array_equal(state_dict[stored[TIED_HEAD_KEY]], embed):
            raise ConversionError(f"{source}: lm_head.weight differs from "
                                  f"decoder.embed_tokens.weight; OPT ties them, an untied head is "
                                  f"not supported.")
    return params


def hf_state_dict_from_params(params: Params, config: OPTConfig,
                              prefix: str = "model.") -> dict[str, np.ndarray]:
    """HF `OPTForCausalLM` state dict (without the tied `lm_head.weight`) from unscanned params."""
    state = {}
    for m in tensor_mappings(config):
        value = np.asarray(_get(params, m.flax_path))
        if value.shape != m.flax_shape:
            raise ConversionError(f"params: {'/'.join(m.flax_path)} has shape {value.shape}, "
                             f"the config expects {m.flax_shape}.")
        state[prefix + m.hf_key] = m.to_hf(value)
    return state
