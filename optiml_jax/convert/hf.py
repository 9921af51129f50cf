"""Tensor-by-tensor mapping between HF `OPTForCausalLM` state dicts and our Flax params.

Every HF tensor has exactly one Flax leaf; `tensor_mappings(config)` lists them all with the
expected shapes on both sides, so conversion checks every key and every shape and names the one
that failed (nanoGPT's `from_pretrained` discipline). Torch `Linear.weight` is `[out, in]`; our
kernels are `[in, out]`, with attention kernels split per head (`[embed, heads, head_dim]` and
`[heads, head_dim, embed]`) so heads can be sharded by name.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Mapping

import numpy as np

from optiml_jax.models.configs import OPTConfig

Params = dict


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
    if key == "lm_head.weight":
        return None
    return key.removeprefix("model.")


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
    by_key = {}
    tied_head = None
    for key, value in state_dict.items():
        canonical = canonical_hf_key(key)
        if canonical is None:
            tied_head = value
        else:
            by_key[canonical] = value
    mappings = tensor_mappings(config)
    expected = {m.hf_key for m in mappings}
    missing = sorted(expected - by_key.keys())
    unexpected = sorted(by_key.keys() - expected)
    if missing or unexpected:
        raise ValueError(f"{source}: keys do not match the config "
                         f"(missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
                         f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}).")
    params: Params = {}
    for m in mappings:
        value = np.asarray(by_key[m.hf_key])
        if value.shape != m.hf_shape:
            raise ValueError(f"{source}: tensor {m.hf_key} has shape {value.shape}, "
                             f"the config expects {m.hf_shape}.")
        _set(params, m.flax_path, m.to_flax(value))
    if tied_head is not None:
        embed = by_key["decoder.embed_tokens.weight"]
        if np.shape(tied_head) != np.shape(embed) or not np.array_equal(tied_head, embed):
            raise ValueError(f"{source}: lm_head.weight differs from decoder.embed_tokens.weight; "
                             f"OPT ties them, an untied head is not supported.")
    return params


def hf_state_dict_from_params(params: Params, config: OPTConfig,
                              prefix: str = "model.") -> dict[str, np.ndarray]:
    """HF `OPTForCausalLM` state dict (without the tied `lm_head.weight`) from unscanned params."""
    state = {}
    for m in tensor_mappings(config):
        value = np.asarray(_get(params, m.flax_path))
        if value.shape != m.flax_shape:
            raise ValueError(f"params: {'/'.join(m.flax_path)} has shape {value.shape}, "
                             f"the config expects {m.flax_shape}.")
        state[prefix + m.hf_key] = m.to_hf(value)
    return state
