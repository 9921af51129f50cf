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


def random_tokens(rng: np.random.RandomState, shape, vocab_size: int) -> np.ndarray:
    # Ids >= 4: real text never contains the special ids 0-3, and 0 means padding to t5x.
    return rng.randint(4, vocab_size, size=shape).astype(np.int32)
