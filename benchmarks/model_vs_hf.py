"""Our OPT vs HF PyTorch OPT on this machine's CPU, same process, same shapes.

(a) training step (forward + backward + AdamW) tokens/s, (b) greedy decoding tokens/s: 64 new
tokens after a 128-token prompt, batch 4, KV cache on both sides. Default shape: OPT-125m, fp32.
Ours trains with `scan_layers=True` (the layout our trainer uses: XLA compiles one block and the
residual-stream gradient stays a loop carry) and decodes with unrolled layers; HF runs its
defaults (sdpa attention, torch AdamW). The last line is one JSON object with the ratios.

    python benchmarks/model_vs_hf.py [--config opt-125m] [--batch 4] [--seq 256] [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
import transformers

from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT, scan_layer_params
from optiml_jax.convert.hf import params_from_hf_state_dict

ADAMW = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)


def timed(fn, repeats: int) -> float:
    """Median wall time of `fn()` over `repeats` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_tokens_per_s(config, hf_model, params, batch, seq, steps):
    rng = np.random.RandomState(0)
    tokens = rng.randint(4, config.vocab_size, size=(batch, seq + 1)).astype(np.int32)

    # HF: the standard PyTorch loop (sdpa attention, torch AdamW).
    hf_model.train()
    for module in hf_model.modules():  # dropout off on both sides: same math
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    optimizer = torch.optim.AdamW(hf_model.parameters(), **ADAMW)
    inputs, targets = torch.as_tensor(tokens[:, :-1]).long(), torch.as_tensor(tokens[:, 1:]).long()

    def hf_step():
        optimizer.zero_grad(set_to_none=True)
        logits = hf_model(inputs).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets.reshape(-1))
        loss.backward()
        optimizer.step()

    hf_time = timed(hf_step, steps)

    # Ours: one jitted step, parameters and optimizer state donated (updated in place).
    model = DecoderOnlyModel(OPT(config, scan_layers=True),
                             loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")
    tx = optax.adamw(ADAMW["lr"], b1=0.9, b2=0.95, eps=1e-8, weight_decay=0.1)
    state = [jax.device_put(scan_layer_params(params, config.num_layers)), None]
    state[1] = tx.init(state[0])
    jax_batch = {"decoder_input_tokens": jnp.asarray(tokens[:, :-1]),
                 "decoder_target_tokens": jnp.asarray(tokens[:, 1:]),
                 "decoder_loss_weights": jnp.ones((batch, seq), jnp.float32)}

    def step(p, opt_state, b):
        (loss, _), grads = jax.value_and_grad(model.loss_fn, has_aux=True)(p, b, None)
        updates, opt_state = tx.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))

    def our_step():
        state[0], state[1], loss = step(state[0], state[1], jax_batch)
        loss.block_until_ready()

    our_time = timed(our_step, steps)
    return batch * seq / our_time, batch * seq / hf_time


def decode_tokens_per_s(config, hf_model, params, batch, prompt, new_tokens, repeats):
    rng = np.random.RandomState(1)
    prompts = rng.randint(4, config.vocab_size, size=(batch, prompt)).astype(np.int32)
    prompts[:, 0] = config.bos_token_id

    hf_model.eval()
    hf_inputs = torch.as_tensor(prompts).long()

    def hf_generate():
        with torch.no_grad():
            out = hf_model.generate(hf_inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                    do_sample=False, pad_token_id=config.pad_token_id)
        assert out.shape[1] == prompt + new_tokens

    hf_time = timed(hf_generate, repeats)

    model = DecoderOnlyModel(OPT(config))
    length = prompt + new_tokens
    tokens = np.zeros((batch, length), np.int32)
    tokens[:, :prompt] = prompts
    causal = np.zeros((batch, length), np.int32)
    causal[:, :prompt + 1] = 1
    decode_batch = {"decoder_input_tokens": jnp.asarray(tokens),
                    "decoder_causal_attention": jnp.asarray(causal)}
    predict = jax.jit(lambda p, b: model.predict_batch_with_aux(
        p, b, decoder_params={"eos_id": -1, "max_decode_steps": new_tokens})[0])
    params = jax.device_put(params)

    def our_generate():
        out = predict(params, decode_batch).block_until_ready()
        assert int((out[:, new_tokens - 1] != 0).sum()) == batch

    our_time = timed(our_generate, repeats)
    return batch * new_tokens / our_time, batch * new_tokens / hf_time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="opt-125m")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new_tokens", type=int, default=64)
    parser.add_argument("--decode_batch", type=int, default=4)
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count())
    config = get_config(args.config, dropout_rate=0.0)
    torch.manual_seed(0)
    hf_model = transformers.OPTForCausalLM(transformers.OPTConfig(**config.to_hf_config())).float()
    params = params_from_hf_state_dict(
        {k: v.detach().numpy() for k, v in hf_model.state_dict().items()}, config)

    ours_decode, hf_decode = decode_tokens_per_s(config, hf_model, params, args.decode_batch,
                                                 args.prompt, args.new_tokens, args.steps)
    ours_train, hf_train = train_tokens_per_s(config, hf_model, params, args.batch, args.seq,
                                              args.steps)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
    print(f"{args.config} fp32 on {machine}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), jax {jax.__version__}")
    print(f"{'':34s} {'ours':>10s} {'HF':>10s} {'ratio':>7s}")
    print(f"{'train tokens/s (batch %d x %d)' % (args.batch, args.seq):34s} "
          f"{ours_train:10.0f} {hf_train:10.0f} {ours_train / hf_train:7.2f}")
    print(f"{'decode tokens/s (%d new, batch %d)' % (args.new_tokens, args.decode_batch):34s} "
          f"{ours_decode:10.1f} {hf_decode:10.1f} {ours_decode / hf_decode:7.2f}")
    print(json.dumps({
        "benchmark": "model_vs_hf", "config": args.config, "machine": machine,
        "train_ratio": round(ours_train / hf_train, 3),
        "decode_ratio": round(ours_decode / hf_decode, 3),
        "train_tokens_per_s": {"ours": round(ours_train, 1), "hf": round(hf_train, 1)},
        "decode_tokens_per_s": {"ours": round(ours_decode, 1), "hf": round(hf_decode, 1)},
    }))


if __name__ == "__main__":
    main()
