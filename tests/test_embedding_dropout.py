"""Embedding dropout, our one deliberate difference from HF OPT (metaseq applies it and the paper
trains with metaseq): on in training, off in evaluation."""

import jax
import jax.numpy as jnp
import numpy as np

from optiml_jax.models.configs import OPTConfig
from optiml_jax.models.opt import OPT

RATE = 0.5
CONFIG = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                   max_position_embeddings=64, dropout_rate=RATE)


def embedding_dropout_output(params, tokens, **apply_kwargs) -> np.ndarray:
    """What the dropout right after the token + position embeddings returns."""
    _, state = OPT(CONFIG).apply({"params": params}, tokens, tokens,
                                 capture_intermediates=True, mutable=["intermediates"],
                                 **apply_kwargs)
    # The only dropout at the top level of the module; the blocks' own sit under layers_<i>.
    [name] = [k for k in state["intermediates"] if k.startswith("Dropout")]
    return np.asarray(state["intermediates"][name]["__call__"][0])


def test_embedding_dropout_is_on_in_training_and_off_in_evaluation():
    tokens = jnp.asarray(np.random.RandomState(0).randint(4, CONFIG.vocab_size, (4, 32)))
    params = OPT(CONFIG).init(jax.random.PRNGKey(0), tokens, tokens,
                              enable_dropout=False)["params"]
    positions = np.arange(tokens.shape[1]) + 2  # OPT's offset 2
    embeddings = (np.asarray(params["embed_tokens"]["embedding"])[np.asarray(tokens)]
                  + np.asarray(params["embed_positions"]["embedding"])[positions])

    evaluated = embedding_dropout_output(params, tokens, enable_dropout=False)
    np.testing.assert_allclose(evaluated, embeddings, rtol=0, atol=1e-7)  # the identity

    trained = embedding_dropout_output(params, tokens, enable_dropout=True,
                                       rngs={"dropout": jax.random.PRNGKey(1)})
    dropped = trained == 0
    assert 0.4 < dropped.mean() < 0.6, dropped.mean()  # rate 0.5 over 8,192 values
    # Kept values are scaled by 1 / (1 - rate), so the expectation stays the embedding.
    np.testing.assert_allclose(trained[~dropped], embeddings[~dropped] / (1 - RATE), rtol=1e-6)
