"""OPT decoder in Flax linen: numerically HF `OPTForCausalLM`, shaped for t5x.

Math (see docs/architecture.md for sources): learned positions read row `position + 2` (padding
reads row 1); pre-LN blocks (OPT-350m: post-LN, no final LN, 512<->1024 projections around the
body); ReLU MLP 4x wide; LayerNorm eps 1e-5 in float32; the query is scaled *after* its bias;
softmax in float32; the LM head is the token embedding.

t5x contract: `__call__` has t5x's decoder signature and returns float32 logits; every parameter
is made with `param_with_axes` (logical names vocab/embed/heads/kv/mlp/layers), activations are
constrained with `with_sharding_constraint`, and a `cache` collection (`cached_key`,
`cached_value`, per-example `cache_index`) drives prefill and one-token decode steps. Model code
holds no mesh logic: the logical names are mapped to mesh axes by the partitioning rules.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.linen import partitioning as nn_partitioning

from optiml_jax.models.configs import OPTConfig

param_with_axes = nn_partitioning.param_with_axes
with_sharding_constraint = nn_partitioning.with_sharding_constraint

Array = jax.Array

# Named remat policies (gin passes strings). "none" keeps every activation.
REMAT_POLICIES = {
    "none": None,
    "full": jax.checkpoint_policies.nothing_saveable,
    "dots": jax.checkpoint_policies.checkpoint_dots,
    "dots_with_no_batch_dims": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
}
ATTENTION_IMPLS = ("auto", "xla", "cudnn")

# A finite "minus infinity": rows with every key masked (padding queries) then get a uniform,
# finite softmax instead of NaNs that would poison gradients through a zero loss weight.
_MASKED = float(jnp.finfo(jnp.float32).min)


def positions_from_segment_ids(segment_ids: Array) -> Array:
    """Positions restarting at 0 at every new segment; padding (segment 0) gets -1.

    With left padding (`[0, 0, 1, 1, 1]`) this is exactly HF OPT's `cumsum(mask) * mask - 1`,
    so padded rows read position row 1 and real tokens start at row 2.
    """
    length = segment_ids.shape[-1]
    index = jnp.arange(length, dtype=jnp.int32)
    is_start = jnp.concatenate(
        [jnp.ones_like(segment_ids[..., :1], bool), segment_ids[..., 1:] != segment_ids[..., :-1]],
        axis=-1)
    start_index = jax.lax.cummax(jnp.where(is_start, index, 0), axis=segment_ids.ndim - 1)
    return jnp.where(segment_ids == 0, -1, index - start_index)


def make_attention_mask(decoder_target_tokens: Array, decoder_segment_ids: Array | None,
                        decoder_causal_attention: Array | None) -> Array:
    """`[batch, 1, q_len, kv_len]` boolean mask, True where a query may attend to a key.

    Causal, AND both positions are real tokens (t5x: `decoder_target_tokens > 0`), AND the same
    packed segment. `decoder_causal_attention` (prefix-LM, unused by OPT) additionally lets input
    positions see each other bidirectionally, as t5x's decoder does.
    """
    length = decoder_target_tokens.shape[-1]
    index = jnp.arange(length)
    allowed = (index[:, None] >= index[None, :])[None, None]  # [1, 1, q, kv]
    if decoder_causal_attention is not None:
        inputs = decoder_causal_attention > 0
        allowed = allowed | (inputs[:, None, :, None] & inputs[:, None, None, :])
    real = decoder_target_tokens > 0
    allowed = allowed & real[:, None, :, None] & real[:, None, None, :]
    if decoder_segment_ids is not None:
        seg = decoder_segment_ids
        allowed = allowed & (seg[:, None, :, None] == seg[:, None, None, :])
    return allowed


def _canonical_dtype(dtype: Any) -> jnp.dtype:
    return jnp.dtype(dtype)  # accepts 'bfloat16' strings from gin as well as jnp dtypes


# --- building blocks ---------------------------------------------------------------------------

class DenseGeneral(nn.Module):
    """Linear layer over one or more trailing axes; kernel `[*in_dims, *features]` in float32."""

    features: int | Sequence[int]
    kernel_axes: Sequence[str | None]
    contract_dims: int = 1
    use_bias: bool = True
    init_std: float = 0.02
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        features = (self.features,) if isinstance(self.features, int) else tuple(self.features)
        in_shape = x.shape[-self.contract_dims:]
        kernel = param_with_axes("kernel", nn.initializers.normal(self.init_std),
                                 (*in_shape, *features), jnp.float32, axes=tuple(self.kernel_axes))
        contract_x = tuple(range(x.ndim - self.contract_dims, x.ndim))
        contract_k = tuple(range(self.contract_dims))
        y = jax.lax.dot_general(x.astype(self.dtype), kernel.astype(self.dtype),
                                ((contract_x, contract_k), ((), ())))
        if self.use_bias:
            bias = param_with_axes("bias", nn.initializers.zeros, features, jnp.float32,
                                   axes=tuple(self.kernel_axes[self.contract_dims:]))
            y = y + bias.astype(self.dtype)
        return y


class LayerNorm(nn.Module):
    """LayerNorm computed in float32 (HF/torch semantics: biased variance, eps inside sqrt)."""

    epsilon: float = 1e-5
    use_affine: bool = True
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = x.astype(jnp.float32)
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
        if self.use_affine:
            features = x.shape[-1]
            scale = param_with_axes("scale", nn.initializers.ones, (features,), jnp.float32,
                                    axes=("embed",))
            bias = param_with_axes("bias", nn.initializers.zeros, (features,), jnp.float32,
                                   axes=("embed",))
            y = y * scale + bias
        return y.astype(self.dtype)


class Embed(nn.Module):
    """A float32 lookup table; `attend` reuses it as the tied output projection."""

    num_embeddings: int
    features: int
    axes: tuple[str, str]
    init_std: float = 0.02
    zero_row: int | None = None  # HF zeroes the padding row of the token table at init
    dtype: Any = jnp.float32

    def setup(self):
        def init(key, shape, dtype):
            table = nn.initializers.normal(self.init_std)(key, shape, dtype)
            return table if self.zero_row is None else table.at[self.zero_row].set(0.0)

        self.embedding = param_with_axes("embedding", init, (self.num_embeddings, self.features),
                                         jnp.float32, axes=self.axes)

    def __call__(self, ids: Array) -> Array:
        # Gather whole rows: un-shard the feature axis first (the FSDP all-gather), otherwise
        # the partitioner replicates the gathered activations to re-shard them by batch.
        table = with_sharding_constraint(self.embedding, (self.axes[0], None))
        return jnp.take(table, ids, axis=0, mode="clip").astype(self.dtype)

    def attend(self, x: Array) -> Array:
        # float32 logits whatever the compute dtype: the loss and sampling need the precision.
        return jnp.einsum("...d,vd->...v", x.astype(self.dtype), self.embedding.astype(self.dtype),
                          preferred_element_type=jnp.float32)


# --- attention ---------------------------------------------------------------------------------

def xla_attention(query: Array, key: Array, value: Array, mask: Array, *,
                  dropout_rate: float = 0.0, dropout_rng: Array | None = None) -> Array:
    """Attention with HF's op order; the query arrives already scaled by head_dim**-0.5.

    Shapes: query `[batch, q_len, heads, head_dim]`, key/value `[batch, kv_len, heads, head_dim]`,
    mask `[batch | 1, 1, q_len, kv_len]`. Scores and softmax in float32, then back to the
    compute dtype for the value product (as HF's eager path does).
    """
    scores = jnp.einsum("bqhd,bkhd->bhqk", query, key, preferred_element_type=jnp.float32)
    scores = jnp.where(mask, scores, _MASKED)
    weights = jax.nn.softmax(scores, axis=-1)
    if dropout_rate > 0.0 and dropout_rng is not None:
        keep = jax.random.bernoulli(dropout_rng, 1.0 - dropout_rate, weights.shape)
        weights = jnp.where(keep, weights / (1.0 - dropout_rate), 0.0)
    return jnp.einsum("bhqk,bkhd->bqhd", weights.astype(value.dtype), value)


def _heads_major(x: Array) -> Array:
    """[batch, length, heads, head_dim] → [batch, heads, length, head_dim]."""
    return jnp.swapaxes(x, 1, 2)


def decode_attention(query: Array, cached_key: Array, cached_value: Array,
                     visible: Array) -> Array:
    """One decode step: query `[batch, 1, heads, head_dim]` over the heads-major cache
    `[batch, heads, length, head_dim]`, attending where `visible` `[batch, length]` is True.

    Same arithmetic as `xla_attention`; only the one-token query is transposed.
    """
    scores = jnp.einsum("bhqd,bhkd->bhqk", _heads_major(query), cached_key,
                        preferred_element_type=jnp.float32)  # [batch, heads, 1, length]
    scores = jnp.where(visible[:, None, None, :], scores, _MASKED)
    weights = jax.nn.softmax(scores, axis=-1).astype(cached_value.dtype)
    return _heads_major(jnp.einsum("bhqk,bhkd->bhqd", weights, cached_value))


def fused_attention(query: Array, key: Array, value: Array, mask: Array, *, is_causal: bool,
                    implementation: str = "cudnn") -> Array:
    """`jax.nn.dot_product_attention` (cuDNN flash attention on GPU).

    `is_causal` lets cuDNN skip the dead upper triangle; the mask still carries padding and
    packed-segment structure (causal AND mask equals mask, so passing both is exact). The
    `implementation` argument exists so CPU tests can run this exact call through XLA.
    """
    return jax.nn.dot_product_attention(query, key, value, mask=mask, scale=1.0,
                                        is_causal=is_causal, implementation=implementation)


def cudnn_unsupported_reason(dtype: jnp.dtype, head_dim: int, attention_dropout: bool) -> str | None:
    """Why cuDNN flash attention cannot run this configuration, or None if it can."""
    if jax.default_backend() != "gpu":
        return f"backend is {jax.default_backend()!r}, cuDNN attention needs a GPU"
    if dtype not in (jnp.bfloat16, jnp.float16):
        return f"compute dtype is {dtype.name}, cuDNN attention needs bfloat16 or float16"
    if head_dim % 8 or head_dim > 128:
        return f"head_dim={head_dim}, cuDNN attention needs a multiple of 8 up to 128"
    if attention_dropout:
        return "attention dropout is on, which the fused kernel does not apply"
    return None


class OPTAttention(nn.Module):
    """Multi-head self-attention with t5x-style prefill / decode caching."""

    config: OPTConfig
    dtype: Any
    attention_impl: str
    deterministic: bool
    decode: bool
    prefill: bool
    is_causal: bool  # False only for prefix-LM batches (decoder_causal_attention given)

    @nn.compact
    def __call__(self, x: Array, mask: Array, prefill_lengths: Array | None) -> Array:
        cfg = self.config
        heads, head_dim = cfg.num_heads, cfg.head_dim
        projection = functools.partial(
            DenseGeneral, features=(heads, head_dim), kernel_axes=("embed", "heads", "kv"),
            use_bias=cfg.enable_bias, init_std=cfg.init_std, dtype=self.dtype)
        # HF scales the projected query, bias included, before QK^T; keep that order.
        query = projection(name="q_proj")(x) * jnp.asarray(head_dim**-0.5, self.dtype)
        key = projection(name="k_proj")(x)
        value = projection(name="v_proj")(x)
        query = with_sharding_constraint(query, ("batch", "length", "heads", "kv"))  # [b, l, h, d]
        key = with_sharding_constraint(key, ("batch", "length", "heads", "kv"))
        value = with_sharding_constraint(value, ("batch", "length", "heads", "kv"))

        out = None
        if self.decode or self.prefill:
            # The first decode=True call (t5x's cache creation) only makes zeroed variables
            # sized for the full length; later calls prefill them or take one-token steps
            # (`length` is the call's own length: the cache's only on those first two calls).
            # The cache is heads-major, `[batch, heads, length, head_dim]`: the layout a decode
            # step's attention reads, so no step transposes the whole cache.
            initialized = self.has_variable("cache", "cached_key")
            batch, length = key.shape[0], key.shape[1]
            cache_shape = (batch, heads, length, head_dim)
            cached_key = self.variable("cache", "cached_key", jnp.zeros, cache_shape, key.dtype)
            cached_value = self.variable("cache", "cached_value", jnp.zeros, cache_shape,
                                         value.dtype)
            cache_index = self.variable("cache", "cache_index",
                                        lambda: jnp.zeros((batch,), jnp.int32))
            if initialized and self.prefill:
                # Keep K/V for positions < prefill_lengths; the last prompt token is recomputed
                # by the first decode step (t5x convention).
                keep = (jnp.arange(length)[None, :] < prefill_lengths[:, None])[:, None, :, None]
                cached_key.value = jnp.where(keep, _heads_major(key), 0).astype(key.dtype)
                cached_value.value = jnp.where(keep, _heads_major(value), 0).astype(value.dtype)
                cache_index.value = prefill_lengths.astype(jnp.int32)
            elif initialized and self.decode:
                if query.shape[1] != 1:
                    raise ValueError(f"A decode step takes one token per example, got a query of "
                                     f"length {query.shape[1]}.")
                index = cache_index.value  # [batch]: the position of the token being fed
                write = jax.vmap(lambda c, x, i: jax.lax.dynamic_update_slice_in_dim(c, x, i, 1))
                cached_key.value = write(cached_key.value,
                                         _heads_major(key).astype(cached_key.value.dtype), index)
                cached_value.value = write(cached_value.value,
                                           _heads_major(value).astype(cached_value.value.dtype),
                                           index)
                cache_index.value = index + 1
                cache_length = cached_key.value.shape[2]
                visible = jnp.arange(cache_length)[None, :] <= index[:, None]  # [batch, length]
                out = decode_attention(query, cached_key.value, cached_value.value, visible)

        if out is None:
            dropout_rate = 0.0 if self.deterministic else cfg.attention_dropout_rate
            impl = self.attention_impl
            reason = cudnn_unsupported_reason(jnp.dtype(self.dtype), head_dim, dropout_rate > 0)
            if impl == "cudnn" and reason:
                raise ValueError(f"attention_impl='cudnn' cannot be used: {reason}.")
            if impl == "auto":
                impl = "xla" if reason else "cudnn"
            if impl == "cudnn":
                out = fused_attention(query, key, value, mask, is_causal=self.is_causal)
            else:
                rng = self.make_rng("dropout") if dropout_rate > 0.0 else None
                out = xla_attention(query, key, value, mask, dropout_rate=dropout_rate,
                                    dropout_rng=rng)
        out = with_sharding_constraint(out, ("batch", "length", "heads", "kv"))
        return DenseGeneral(cfg.hidden_size, kernel_axes=("heads", "kv", "embed"), contract_dims=2,
                            use_bias=cfg.enable_bias, init_std=cfg.init_std, dtype=self.dtype,
                            name="out_proj")(out)


# --- decoder layer and model -------------------------------------------------------------------

class OPTDecoderLayer(nn.Module):
    """One block: pre-LN (`x + f(LN(x))`) or, for OPT-350m, post-LN (`LN(x + f(x))`)."""

    config: OPTConfig
    dtype: Any
    attention_impl: str
    deterministic: bool
    decode: bool
    prefill: bool
    is_causal: bool
    scanned: bool = False  # under nn.scan the block returns (carry, None)

    @nn.compact
    def __call__(self, x: Array, mask: Array, prefill_lengths: Array | None):
        cfg = self.config
        pre_ln = cfg.do_layer_norm_before
        norm = functools.partial(LayerNorm, epsilon=cfg.layer_norm_epsilon,
                                 use_affine=cfg.layer_norm_elementwise_affine, dtype=self.dtype)
        dropout = functools.partial(nn.Dropout, rate=cfg.dropout_rate,
                                    deterministic=self.deterministic)
        dense = functools.partial(DenseGeneral, use_bias=cfg.enable_bias, init_std=cfg.init_std,
                                  dtype=self.dtype)

        attn_norm = norm(name="self_attn_layer_norm")
        h = attn_norm(x) if pre_ln else x
        h = OPTAttention(cfg, self.dtype, self.attention_impl, self.deterministic, self.decode,
                         self.prefill, self.is_causal, name="self_attn")(h, mask, prefill_lengths)
        x = x + dropout()(h)
        if not pre_ln:
            x = attn_norm(x)

        mlp_norm = norm(name="final_layer_norm")
        h = mlp_norm(x) if pre_ln else x
        h = dense(cfg.ffn_dim, kernel_axes=("embed", "mlp"), name="fc1")(h)
        h = jax.nn.relu(h) if cfg.activation_function == "relu" else jax.nn.gelu(h, approximate=False)
        h = with_sharding_constraint(h, ("batch", "length", "mlp"))
        h = dense(cfg.hidden_size, kernel_axes=("mlp", "embed"), name="fc2")(h)
        x = x + dropout()(h)
        if not pre_ln:
            x = mlp_norm(x)
        x = with_sharding_constraint(x, ("batch", "length", "embed"))
        return (x, None) if self.scanned else x


class OPT(nn.Module):
    """OPT decoder-only LM with t5x's decoder call signature; returns float32 logits.

    Attributes:
      config: the architecture.
      dtype: compute dtype ('float32' or 'bfloat16'); parameters are always float32.
      scan_layers: stack the blocks with `nn.scan` (params and cache gain a leading `layers`
        axis); t5x reads this attribute to offset the cache when decoding.
      remat_policy: one of REMAT_POLICIES, applied per block.
      attention_impl: 'xla' (einsum, HF op order), 'cudnn' (jax.nn.dot_product_attention's
        cuDNN flash kernel; raises where unsupported), or 'auto' (cuDNN where supported).
    """

    config: OPTConfig
    dtype: Any = "float32"
    scan_layers: bool = False
    remat_policy: str = "none"
    attention_impl: str = "auto"

    def _layer_stack(self, deterministic: bool, decode: bool, prefill: bool, is_causal: bool):
        if self.remat_policy not in REMAT_POLICIES:
            raise ValueError(f"remat_policy={self.remat_policy!r}; known: {sorted(REMAT_POLICIES)}.")
        if self.attention_impl not in ATTENTION_IMPLS:
            raise ValueError(f"attention_impl={self.attention_impl!r}; known: {ATTENTION_IMPLS}.")
        block = OPTDecoderLayer
        if self.remat_policy != "none":
            # prevent_cse=False is safe (and faster) under scan, required-off otherwise.
            block = nn_partitioning.remat(block, policy=REMAT_POLICIES[self.remat_policy],
                                          prevent_cse=not self.scan_layers)
        kwargs = dict(config=self.config, dtype=_canonical_dtype(self.dtype),
                      attention_impl=self.attention_impl, deterministic=deterministic,
                      decode=decode, prefill=prefill, is_causal=is_causal)
        if self.scan_layers:
            scanned = nn_partitioning.scan_with_axes(
                block, variable_axes={"params": 0, "cache": 0},
                split_rngs={"params": True, "dropout": True},
                in_axes=(nn.broadcast, nn.broadcast), length=self.config.num_layers,
                axis_name="layers")
            return [scanned(scanned=True, name="layers", **kwargs)]
        return [block(name=f"layers_{i}", **kwargs) for i in range(self.config.num_layers)]

    def _decode_step_positions(self) -> Array:
        # One source of truth for "where is each example": layer 0's cache index.
        cache = self.variables["cache"]
        if self.scan_layers:
            return cache["layers"]["self_attn"]["cache_index"][0][:, None]
        return cache["layers_0"]["self_attn"]["cache_index"][:, None]

    @nn.compact
    def __call__(self,
                 decoder_input_tokens: Array,
                 decoder_target_tokens: Array,
                 decoder_segment_ids: Array | None = None,
                 decoder_positions: Array | None = None,
                 decoder_causal_attention: Array | None = None,
                 *,
                 enable_dropout: bool = True,
                 decode: bool = False,
                 max_decode_length: int | None = None,
                 prefill: bool = False,
                 prefill_lengths: Array | None = None) -> Array:
        """Logits `[batch, length, vocab]` in float32.

        `max_decode_length` is accepted for t5x compatibility; the cache length (set when the
        cache is created) is what bounds decoding.
        """
        del max_decode_length
        cfg = self.config
        dtype = _canonical_dtype(self.dtype)
        if decode and prefill:
            raise ValueError("decode and prefill cannot both be set: prefill first, then decode.")
        tokens = decoder_input_tokens.astype(jnp.int32)  # t5x initialises with float32 ones
        batch, length = tokens.shape
        decode_step = decode and "cache" in self.variables
        if decode_step:
            positions = self._decode_step_positions()
            mask = None  # built from the cache index inside each attention layer
        else:
            if length > cfg.max_position_embeddings:
                raise ValueError(f"Sequence length {length} exceeds max_position_embeddings="
                                 f"{cfg.max_position_embeddings}.")
            if decoder_positions is not None:
                positions = decoder_positions.astype(jnp.int32)
            elif decoder_segment_ids is not None:
                positions = positions_from_segment_ids(decoder_segment_ids)
            else:
                positions = jnp.broadcast_to(jnp.arange(length, dtype=jnp.int32), (batch, length))
            mask = make_attention_mask(decoder_target_tokens, decoder_segment_ids,
                                       decoder_causal_attention)
        if prefill and prefill_lengths is None:
            # t5x's definition: prompt tokens after the leading BOS.
            prefill_lengths = jnp.sum(tokens[:, 1:] != 0, axis=-1)

        deterministic = not enable_dropout
        embed_tokens = Embed(cfg.vocab_size, cfg.word_embed_proj_dim, ("vocab", "embed"),
                             cfg.init_std, zero_row=cfg.pad_token_id, dtype=dtype,
                             name="embed_tokens")
        x = embed_tokens(tokens)  # [batch, length, word_embed_proj_dim]
        if cfg.projects_embeddings:  # OPT-350m: project before adding (hidden-wide) positions
            x = DenseGeneral(cfg.hidden_size, kernel_axes=(None, "embed"), use_bias=False,
                             init_std=cfg.init_std, dtype=dtype, name="project_in")(x)
        embed_positions = Embed(cfg.position_table_size, cfg.hidden_size,
                                ("abspos_buckets", "embed"), cfg.init_std, dtype=dtype,
                                name="embed_positions")
        x = x + embed_positions(positions + 2)  # offset 2: padding (-1) reads row 1
        # metaseq applies dropout to the embeddings (HF OPT does not); the paper trains with it.
        x = nn.Dropout(cfg.dropout_rate, deterministic=deterministic)(x)
        x = with_sharding_constraint(x, ("batch", "length", "embed"))

        layers = self._layer_stack(deterministic, decode, prefill,
                                   is_causal=decoder_causal_attention is None)
        for layer in layers:
            x = layer(x, mask, prefill_lengths)
        if self.scan_layers:
            x = x[0]

        if cfg.has_final_layer_norm:
            x = LayerNorm(cfg.layer_norm_epsilon, cfg.layer_norm_elementwise_affine, dtype,
                          name="final_layer_norm")(x)
        if cfg.projects_embeddings:
            x = DenseGeneral(cfg.word_embed_proj_dim, kernel_axes=("embed", None), use_bias=False,
                             init_std=cfg.init_std, dtype=dtype, name="project_out")(x)
        logits = embed_tokens.attend(x)  # tied LM head, float32
        return with_sharding_constraint(logits, ("batch", "length", "vocab"))


# --- parameter layout ---------------------------------------------------------------------------

def scan_layer_params(params: dict, num_layers: int) -> dict:
    """Unscanned params (`layers_0` … `layers_{n-1}`) → the `scan_layers=True` layout."""
    blocks = [params[f"layers_{i}"] for i in range(num_layers)]
    out = {k: v for k, v in params.items() if not k.startswith("layers_")}
    out["layers"] = jax.tree.map(lambda *xs: jnp.stack(xs), *blocks)
    return out


def unscan_layer_params(params: dict) -> dict:
    """`scan_layers=True` params (leading `layers` axis) → one `layers_i` subtree per block."""
    out = {k: v for k, v in params.items() if k != "layers"}
    num_layers = jax.tree.leaves(params["layers"])[0].shape[0]
    for i in range(num_layers):
        out[f"layers_{i}"] = jax.tree.map(lambda x, i=i: x[i], params["layers"])
    return out
