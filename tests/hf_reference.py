"""HF PyTorch OPT built from random weights (no downloads): the reference our model must equal."""

from __future__ import annotations

import numpy as np
import pytest

from optiml_jax.convert.hf import params_from_hf_state_dict
from optiml_jax.models.configs import OPTConfig

torch = pytest.importorskip("torch", reason="HF parity tests need torch (the [convert] extra)")
transformers = pytest.importorskip("transformers", reason="HF parity tests need transformers")


def random_hf_model(config: OPTConfig, seed: int = 0):
    """`(hf_model, our_params)`: a float32 eval-mode HF model and the same weights as Flax params.

    LayerNorm scales/biases and Linear biases start at 1/0 in HF's init; they are perturbed so
    that a mapping error in any of them shows up in the logits. Query/key weights are widened
    (std 1.5/sqrt(hidden)) so attention scores are O(1): with the 0.02 init attention is nearly
    uniform, a wrong mask barely shows, and q/k gradients vanish into float32 round-off.
    """
    torch.manual_seed(seed)
    hf_config = transformers.OPTConfig(**config.to_hf_config(), attn_implementation="eager")
    model = transformers.OPTForCausalLM(hf_config).float().eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or "layer_norm" in name:
                param.add_(0.1 * torch.randn_like(param))
            if name.endswith(("q_proj.weight", "k_proj.weight")):
                param.normal_(0.0, 1.5 / config.hidden_size**0.5)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return model, params_from_hf_state_dict(state, config)


def hf_logits(model, tokens, attention_mask=None, position_ids=None) -> np.ndarray:
    with torch.no_grad():
        kwargs = {}
        if attention_mask is not None:
            kwargs["attention_mask"] = torch.as_tensor(np.asarray(attention_mask))
        if position_ids is not None:
            kwargs["position_ids"] = torch.as_tensor(np.asarray(position_ids))
        return model(torch.as_tensor(np.asarray(tokens)), **kwargs).logits.numpy()


def hf_target_log_likelihood(model, source_ids, target_ids) -> float:
    """HF's sum of log p(target token) for `<s> source target`, in float64."""
    tokens = [2, *source_ids, *target_ids]
    with torch.no_grad():
        log_probs = torch.log_softmax(model(torch.as_tensor([tokens])).logits[0].double(), -1)
    start = 1 + len(source_ids)  # position of the first target token
    return float(sum(log_probs[p - 1, tokens[p]] for p in range(start, len(tokens))))


def random_tokens(rng: np.random.RandomState, shape, vocab_size: int) -> np.ndarray:
    # Ids >= 4: real text never contains the special ids 0-3, and 0 means padding to t5x.
    return rng.randint(4, vocab_size, size=shape).astype(np.int32)


def save_bin_shards(model, directory, max_shard_bytes: int, *, prefix: str = "model.",
                    with_lm_head: bool = True) -> list:
    """`model` saved as transformers 4.x did with `safe_serialization=False` (v5 cannot).

    Shards `pytorch_model-0000i-of-0000n.bin` (greedy by bytes, like HF) plus
    `pytorch_model.bin.index.json`; a single shard is `pytorch_model.bin` without an index.
    `prefix=""` gives the `decoder.*` keys of checkpoints saved from `OPTModel` (the Hub's OPT
    `.bin` files). Returns the shard paths.
    """
    import json
    from pathlib import Path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(directory)
    state = {}
    for key, value in model.state_dict().items():
        if key == "lm_head.weight":
            if with_lm_head:
                state[key] = value.clone()
        else:
            state[prefix + key.removeprefix("model.")] = value.clone()
    shards, current, size = [], {}, 0
    for key, value in state.items():
        nbytes = value.numel() * value.element_size()
        if current and size + nbytes > max_shard_bytes:
            shards.append(current)
            current, size = {}, 0
        current[key] = value
        size += nbytes
    shards.append(current)
    if len(shards) == 1:
        path = directory / "pytorch_model.bin"
        torch.save(shards[0], path)
        return [path]
    names = [f"pytorch_model-{i:05d}-of-{len(shards):05d}.bin" for i in range(1, len(shards) + 1)]
    for name, shard in zip(names, shards):
        torch.save(shard, directory / name)
    weight_map = {key: name for name, shard in zip(names, shards) for key in shard}
    total = sum(v.numel() * v.element_size() for v in state.values())
    (directory / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}))
    return [directory / name for name in names]


def differing_tensors(a, b) -> list[str]:
    """Keys whose tensors differ in any bit (or dtype, or shape), plus keys in only one dict."""
    differing = sorted(a.keys() ^ b.keys())
    for key in a.keys() & b.keys():
        if a[key].dtype != b[key].dtype or not torch.equal(a[key], b[key]):
            differing.append(key)
    return differing
