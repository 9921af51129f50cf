"""OPT architecture configuration: presets for every released size and the HF `config.json` bridge.

`OPTConfig` describes the network only (sizes, normalisation layout, dropout). How it is computed
(dtype, scanned layers, remat, attention kernel) is set on the `OPT` module, so one config serves
training, decoding and conversion alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

# HF `config.json` keys that carry no information about the network's math. They are accepted
# and ignored on read so that real Hub configs load as they are.
_HF_METADATA_KEYS = frozenset({
    "_name_or_path", "architectures", "transformers_version", "torch_dtype", "dtype", "prefix",
    "use_cache", "output_hidden_states", "output_attentions", "return_dict", "id2label", "label2id",
    "problem_type", "chunk_size_feed_forward", "is_encoder_decoder", "tokenizer_class",
    "_attn_implementation_autoset", "_attn_implementation",
})

# HF `config.json` keys whose non-default value would change the network in a way this
# implementation does not support; reading them is an explicit check, never a silent drop.
_HF_UNSUPPORTED_IF_SET = {
    "layerdrop": 0.0,           # stochastic depth during training; OPT releases use 0
    "activation_dropout": 0.0,  # not applied by HF OPT either; OPT releases use 0
    "tie_word_embeddings": True,  # OPT's LM head is the token embedding
}

# HF names that differ from ours; every other modelled field has the same name on both sides.
_HF_RENAMES = {
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "_remove_final_layer_norm": "remove_final_layer_norm",
    "dropout": "dropout_rate",
    "attention_dropout": "attention_dropout_rate",
}
_HF_SAME_NAME = frozenset({
    "vocab_size", "hidden_size", "ffn_dim", "max_position_embeddings", "word_embed_proj_dim",
    "do_layer_norm_before", "enable_bias", "layer_norm_elementwise_affine", "activation_function",
    "init_std", "pad_token_id", "bos_token_id", "eos_token_id",
})

SUPPORTED_ACTIVATIONS = ("relu", "gelu")


@dataclasses.dataclass(frozen=True)
class OPTConfig:
    """Sizes and layout of an OPT decoder (field meanings follow HF `OPTConfig`).

    `word_embed_proj_dim=None` means "same as hidden_size"; it is resolved on construction.
    """

    vocab_size: int = 50272
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    ffn_dim: int = 3072
    max_position_embeddings: int = 2048
    word_embed_proj_dim: int | None = None
    do_layer_norm_before: bool = True
    remove_final_layer_norm: bool = False
    enable_bias: bool = True
    layer_norm_elementwise_affine: bool = True
    activation_function: str = "relu"
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.0
    layer_norm_epsilon: float = 1e-5
    init_std: float = 0.02
    pad_token_id: int = 1
    bos_token_id: int = 2
    eos_token_id: int = 2

    def __post_init__(self):
        if self.word_embed_proj_dim is None:
            object.__setattr__(self, "word_embed_proj_dim", self.hidden_size)
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"OPTConfig: hidden_size={self.hidden_size} is not divisible by "
                f"num_heads={self.num_heads}; every head must have the same width.")
        if self.activation_function not in SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"OPTConfig: activation_function={self.activation_function!r} is not supported; "
                f"use one of {SUPPORTED_ACTIVATIONS}.")
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "ffn_dim",
                     "max_position_embeddings", "word_embed_proj_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"OPTConfig: {name}={getattr(self, name)} must be positive.")
        for name in ("dropout_rate", "attention_dropout_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"OPTConfig: {name}={getattr(self, name)} must be in [0, 1).")

    # --- derived sizes -------------------------------------------------------------------------

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def has_final_layer_norm(self) -> bool:
        # Only pre-LN models end with a LayerNorm (OPT-350m, post-LN, has none).
        return self.do_layer_norm_before and not self.remove_final_layer_norm

    @property
    def projects_embeddings(self) -> bool:
        # OPT-350m keeps 512-wide token embeddings and projects them to/from the 1024-wide body.
        return self.word_embed_proj_dim != self.hidden_size

    @property
    def position_table_size(self) -> int:
        # Learned positions are offset by 2 (row 1 is the padding row, row 0 is never read).
        return self.max_position_embeddings + 2

    def num_params(self) -> int:
        """Exact number of parameters (the tied LM head counted once)."""
        d, f, dp = self.hidden_size, self.ffn_dim, self.word_embed_proj_dim
        bias = 1 if self.enable_bias else 0
        ln = 2 * d if self.layer_norm_elementwise_affine else 0
        attention = 4 * d * d + 4 * d * bias
        mlp = 2 * d * f + (f + d) * bias
        per_layer = attention + mlp + 2 * ln
        total = self.num_layers * per_layer
        total += self.vocab_size * dp + self.position_table_size * d
        if self.projects_embeddings:
            total += 2 * dp * d
        if self.has_final_layer_norm:
            total += ln
        return total

    def num_matmul_params(self) -> int:
        """Parameters that take part in a matmul per token: every Linear and the LM head.

        Token and position lookups are gathers, not matmuls, so they do not count; the tied
        LM head does (it is a `[hidden, vocab]` matmul per token).
        """
        d, f, dp = self.hidden_size, self.ffn_dim, self.word_embed_proj_dim
        total = self.num_layers * (4 * d * d + 2 * d * f) + self.vocab_size * dp
        if self.projects_embeddings:
            total += 2 * dp * d
        return total

    def flops_per_token(self, seq_len: int, *, training: bool = True) -> float:
        """Model FLOPs per token: 2N forward (6N training) plus causal attention.

        Convention (stated because MFU numbers differ by it): N = `num_matmul_params()`; the
        QK^T and AV matmuls cost 4*S*D per layer per token in a full (non-causal) forward and we
        count half of that, 2*S*D, because causal masking makes half the score matrix dead work
        (MaxText's convention). Training is 3x the forward (backward = 2x forward). Remat
        recomputation is not counted, so MFU computed from this is model FLOPs utilisation.
        """
        forward = 2 * self.num_matmul_params() + 2 * self.num_layers * seq_len * self.hidden_size
        return float(3 * forward if training else forward)

    def replace(self, **changes: Any) -> "OPTConfig":
        return dataclasses.replace(self, **changes)

    # --- HF config.json bridge -----------------------------------------------------------------

    @classmethod
    def from_hf_config(cls, hf: Mapping[str, Any]) -> "OPTConfig":
        """Build from an HF OPT `config.json` dict; raises on anything it cannot honour."""
        hf = dict(hf)
        model_type = hf.pop("model_type", "opt")
        if model_type != "opt":
            raise ValueError(f"HF config: model_type={model_type!r}, expected 'opt'.")
        for key, supported in _HF_UNSUPPORTED_IF_SET.items():
            if key in hf and (value := hf.pop(key)) != supported:
                raise ValueError(
                    f"HF config: {key}={value!r} is not supported (only {supported!r}).")
        kwargs: dict[str, Any] = {}
        unknown = []
        for key, value in hf.items():
            if key in _HF_RENAMES:
                kwargs[_HF_RENAMES[key]] = value
            elif key in _HF_SAME_NAME:
                kwargs[key] = value
            elif key not in _HF_METADATA_KEYS:
                unknown.append(key)
        if unknown:
            raise ValueError(
                f"HF config: unknown field(s) {sorted(unknown)}; refusing to guess what they mean.")
        if isinstance(kwargs.get("eos_token_id"), (list, tuple)):
            raise ValueError("HF config: eos_token_id must be a single id for OPT, got a list.")
        return cls(**kwargs)

    def to_hf_config(self) -> dict[str, Any]:
        """The HF `config.json` dict that `transformers.OPTConfig(**d)` reads back to this model."""
        return {
            "model_type": "opt",
            "architectures": ["OPTForCausalLM"],
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "ffn_dim": self.ffn_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "word_embed_proj_dim": self.word_embed_proj_dim,
            "do_layer_norm_before": self.do_layer_norm_before,
            "_remove_final_layer_norm": self.remove_final_layer_norm,
            "enable_bias": self.enable_bias,
            "layer_norm_elementwise_affine": self.layer_norm_elementwise_affine,
            "activation_function": self.activation_function,
            "dropout": self.dropout_rate,
            "attention_dropout": self.attention_dropout_rate,
            "layerdrop": 0.0,
            "init_std": self.init_std,
            "pad_token_id": self.pad_token_id,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "tie_word_embeddings": True,
            "use_cache": True,
        }


def _size(hidden: int, layers: int, heads: int, **extra: Any) -> OPTConfig:
    return OPTConfig(hidden_size=hidden, num_layers=layers, num_heads=heads, ffn_dim=4 * hidden,
                     **extra)


# Sizes from the released HF config.json files (OPT-175B from metaseq's job constants).
PRESETS: dict[str, OPTConfig] = {
    "opt-125m": _size(768, 12, 12),
    "opt-350m": _size(1024, 24, 16, word_embed_proj_dim=512, do_layer_norm_before=False),
    "opt-1.3b": _size(2048, 24, 32),
    "opt-2.7b": _size(2560, 32, 32),
    "opt-6.7b": _size(4096, 32, 32),
    "opt-13b": _size(5120, 40, 40),
    "opt-30b": _size(7168, 48, 56),
    "opt-66b": _size(9216, 64, 72),
    "opt-175b": _size(12288, 96, 96),
    # CPU tests and the demo: the real vocabulary (so the real tokenizer works), a tiny body.
    "tiny": _size(64, 2, 4),
}


def get_config(name: str, **overrides: Any) -> OPTConfig:
    """A preset by name (`opt-125m` … `opt-175b`, `tiny`), optionally with fields replaced."""
    key = name.lower().removeprefix("facebook/")
    if key not in PRESETS:
        raise ValueError(f"Unknown OPT preset {name!r}; known presets: {sorted(PRESETS)}.")
    return PRESETS[key].replace(**overrides) if overrides else PRESETS[key]
