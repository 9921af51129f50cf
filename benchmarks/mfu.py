"""Model FLOPs utilisation of a training step on one accelerator (default: OPT-1.3B, seq 2048, bf16).

Runs forward + backward + AdamW through `DecoderOnlyModel` with scanned layers, cuDNN attention
where available (`attention_impl='auto'`), bf16 compute and float32 parameters / Adam state, and
reports MFU = model FLOPs per token (`OPTConfig.flops_per_token`: 6N + causal attention, remat
not counted) × tokens/s ÷ the chip's dense bf16 peak. Last line: one JSON object.

    python benchmarks/mfu.py [--config opt-1.3b] [--batch 8] [--seq 2048] [--remat none]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.summaries import peak_flops

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="opt-1.3b")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--remat", default="none", help="remat policy (see REMAT_POLICIES)")
    parser.add_argument("--attention", default="auto", help="auto | xla | cudnn")
    args = parser.parse_args()

    config = get_config(args.config, dropout_rate=0.0)
    module = OPT(config, dtype="bfloat16", scan_layers=True, remat_policy=args.remat,
                 attention_impl=args.attention)
    model = DecoderOnlyModel(module, loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")
    params = jax.jit(lambda key: model.get_initial_variables(
        key, {"decoder_input_tokens": (1, 8)})["params"])(jax.random.PRNGKey(0))
    tx = optax.adamw(5e-5, b1=0.9, b2=0.95, eps=1e-8, weight_decay=0.1)
    opt_state = tx.init(params)
    tokens = np.random.RandomState(0).randint(4, config.vocab_size, (args.batch, args.seq + 1))
    batch = {"decoder_input_tokens": jnp.asarray(tokens[:, :-1], jnp.int32),
             "decoder_target_tokens": jnp.asarray(tokens[:, 1:], jnp.int32),
             "decoder_loss_weights": jnp.ones((args.batch, args.seq), jnp.float32)}

    def step(p, s, b):
        (loss, _), grads = jax.value_and_grad(model.loss_fn, has_aux=True)(p, b, None)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    params, opt_state, loss = step(params, opt_state, batch)  # compile
    float(loss)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        params, opt_state, loss = step(params, opt_state, batch)
        float(loss)  # wait for the step
        times.append(time.perf_counter() - start)
    step_time = statistics.median(times)
    tokens_per_s = args.batch * args.seq / step_time
    flops_per_s = tokens_per_s * config.flops_per_token(args.seq)
    device = jax.devices()[0]
    peak = peak_flops(device)
    mfu = flops_per_s / peak if peak else None
    print(f"{args.config} on {device.device_kind}: batch {args.batch} x {args.seq}, "
          f"{step_time * 1e3:.1f} ms/step, {tokens_per_s:,.0f} tokens/s, "
          f"{flops_per_s / 1e12:.1f} TFLOP/s" + (f", MFU {100 * mfu:.1f}%" if mfu else
                                                 " (no known peak for this device)"))
    print(json.dumps({"benchmark": "mfu", "config": args.config, "device": device.device_kind,
                      "batch": args.batch, "seq": args.seq, "remat": args.remat,
                      "step_ms": round(step_time * 1e3, 2), "tokens_per_s": round(tokens_per_s),
                      "model_tflops_per_s": round(flops_per_s / 1e12, 2),
                      "mfu": round(mfu, 4) if mfu else None}))


if __name__ == "__main__":
    main()
