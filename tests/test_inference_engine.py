"""InferenceEngine: bucketed, batched, mesh-sharded greedy generation and scoring equal HF PyTorch's."""

import types

import jax
import numpy as np
import pytest

from hf_reference import hf_target_log_likelihood, random_hf_model, random_tokens, torch
from optiml_jax.evaluation.inference import InferenceEngine
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import param_shardings

CONFIG = get_config("tiny", max_position_embeddings=64)
MESH = {"data": 2, "fsdp": 2, "tensor": 2}


@pytest.fixture(scope="module")
def hf_and_params():
    hf_model, params = random_hf_model(CONFIG, seed=5)
    partitioner = Partitioner(MESH)
    model = DecoderOnlyModel(OPT(CONFIG))
    return hf_model, jax.device_put(params, param_shardings(model, partitioner)), partitioner


def _engine(partitioner, eos_id=None, **kwargs):
    vocabulary = types.SimpleNamespace(eos_id=eos_id) if eos_id is not None else None
    model = DecoderOnlyModel(OPT(CONFIG), vocabulary=vocabulary)
    return InferenceEngine(model, partitioner, batch_size=4, length_buckets=(16, 32), **kwargs)


def _hf_greedy(hf_model, prompt, new_tokens, eos):
    with torch.no_grad():
        out = hf_model.generate(torch.as_tensor([[2, *prompt]]), max_new_tokens=new_tokens, do_sample=False,
                                eos_token_id=eos, pad_token_id=1)
    tokens = out[0, len(prompt) + 1:].tolist()
    return tokens[:tokens.index(eos)] if eos in tokens else tokens


def test_generation_equals_hf_greedy_across_buckets_and_batches(hf_and_params):
    hf_model, params, partitioner = hf_and_params
    engine = _engine(partitioner, max_new_tokens=10)
    rng = np.random.RandomState(0)
    # 7 prompts (two batches of 4, one padded), rows of 11 to 51 positions (buckets 16, 32, 64).
    prompts = [random_tokens(rng, (n,), CONFIG.vocab_size).tolist() for n in (3, 40, 12, 25, 1, 30, 7)]
    generated = engine.generate(params, prompts)
    assert generated == [_hf_greedy(hf_model, p, 10, eos=2) for p in prompts]
    assert all(len(g) == 10 for g in generated)  # A random model never says </s>.


def test_generation_stops_at_eos(hf_and_params):
    hf_model, params, partitioner = hf_and_params
    prompt = [11, 12, 13]
    first = _engine(partitioner, max_new_tokens=12).generate(params, [prompt])[0]
    eos = first[4]  # Make the 5th generated token the end of sequence.
    stopped = _engine(partitioner, eos_id=eos, max_new_tokens=12).generate(params, [prompt, [21, 22]])
    assert stopped[0] == first[:first.index(eos)]
    assert stopped == [_hf_greedy(hf_model, p, 12, eos=eos) for p in ([11, 12, 13], [21, 22])]


def test_scores_equal_hf_log_likelihoods(hf_and_params):
    hf_model, params, partitioner = hf_and_params
    engine = _engine(partitioner, max_new_tokens=10)
    rng = np.random.RandomState(1)
    rows = [(random_tokens(rng, (n,), CONFIG.vocab_size).tolist(), random_tokens(rng, (m,), CONFIG.vocab_size).tolist())
            for n, m in ((5, 2), (40, 3), (0, 4), (9, 1), (20, 20))]
    expected = [hf_target_log_likelihood(hf_model, inputs, targets) for inputs, targets in rows]
    np.testing.assert_allclose(engine.score(params, rows), expected, rtol=1e-5, atol=1e-4)


def test_rows_that_do_not_fit_are_refused(hf_and_params):
    _, params, partitioner = hf_and_params
    engine = _engine(partitioner, max_new_tokens=10)
    assert engine.max_prompt_tokens == 64 - 1 - 10
    assert engine.batch_size == 4 and engine.length_buckets == (16, 32, 64)
    with pytest.raises(ValueError, match="prompt 1 has 54 tokens; at most 53"):
        engine.generate(params, [[5], [5] * 54])
    with pytest.raises(ValueError, match="row 0 has 65 tokens"):
        engine.score(params, [([5] * 60, [6] * 5)])
    with pytest.raises(ValueError, match="row 0 has no target tokens"):
        engine.score(params, [([5], [])])
    with pytest.raises(ValueError, match="max_new_tokens=64"):
        _engine(partitioner, max_new_tokens=64)


def test_batch_size_rounds_up_to_the_data_parallel_size():
    engine = InferenceEngine(DecoderOnlyModel(OPT(CONFIG)), Partitioner(MESH), batch_size=3, max_new_tokens=8)
    assert engine.batch_size == 4  # data × fsdp = 4 devices each get a row


def test_option_scores_equal_hf_and_row_scores(hf_and_params):
    hf_model, params, partitioner = hf_and_params
    engine = _engine(partitioner, max_new_tokens=10)
    rng = np.random.RandomState(2)
    # 5 examples (two batches of 4) with 1 to 4 options of 1 to 9 tokens; prompts of 0 to 40 tokens.
    examples = [(random_tokens(rng, (n,), CONFIG.vocab_size).tolist(),
                 [random_tokens(rng, (m,), CONFIG.vocab_size).tolist() for m in lengths])
                for n, lengths in ((12, (1, 3)), (40, (2, 2, 5, 1)), (0, (4,)), (7, (9, 2, 3)), (25, (6, 6)))]
    scores = engine.score_options(params, examples)
    rows = [(prompt, option) for prompt, options in examples for option in options]
    flat = np.concatenate(scores)
    np.testing.assert_allclose(flat, engine.score(params, rows), rtol=1e-5, atol=1e-4)
    expected = [hf_target_log_likelihood(hf_model, inputs, targets) for inputs, targets in rows]
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-4)
    assert [len(s) for s in scores] == [2, 4, 1, 3, 2]
    with pytest.raises(ValueError, match="example 0 needs 70 positions"):
        engine.score_options(params, [([5] * 60, [[6] * 10])])
