"""Evaluation throughput: our InferenceEngine vs HF PyTorch on the same model, same CPU, same rows.

Two passes over real SuperNI evaluation prompts (0-shot, every dev/test task present locally):
(a) generation: greedy, `--max_new_tokens` new tokens (a random model never says </s>, so every
    row runs the full length on both sides), batches of `--batch_size`;
(b) rank classification: each prompt with two answer options, " " + option + </s> scored as the
    summed target log-likelihood; an example is one prompt with both options. Ours as the
    evaluator runs it (`score_options`: the prompt once into the KV cache, then each option's
    tokens), and, for reference, one full row per option through t5x's `score_batch` (`score`,
    what SeqIO's score_fn uses and what HF does).
Ours: `InferenceEngine` (jitted, bucketed, one device). HF: `OPTForCausalLM` in float32 with its
defaults, batches sorted by length as ours are (left padding for `generate`, right padding for
scoring, each batch padded only to its own longest row). Both sides get one warm-up pass (our
compilations, HF's allocator), then the timed pass; tokenization is outside the timings. Both
sides' outputs are compared (generated ids; scores). The last line is one JSON object with the
ratios (ours / HF, > 1 means faster).

    python benchmarks/eval_throughput.py [--config opt-125m] [--examples 32] [--batch_size 16] \\
        [--max_new_tokens 256]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import numpy as np
import torch
import transformers

import optiml_jax.tasks  # noqa: F401  (registers the bench: evaluation_tasks reads our registry)
from optiml_jax.convert.hf import params_from_hf_state_dict
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.task_reader import TaskReader, default_vocabulary
from optiml_jax.evaluation.inference import DEFAULT_MAX_NEW_TOKENS, InferenceEngine
from optiml_jax.evaluation.runner import evaluation_tasks
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner

OPTIONS = (" yes", " no")
PAD = 1  # HF OPT's padding id.


def real_prompts(count: int, max_tokens: int) -> list[list[int]]:
    """Token ids of the first 0-shot prompts of every present SuperNI dev/test task, round robin."""
    per_task = []
    for split in ("dev", "test"):
        for spec in evaluation_tasks(split, [0])[0]:
            reader = TaskReader(spec, ExampleStore())
            sources = [r.source for r in reader.render(range(len(reader)))]
            per_task.append([ids[-max_tokens:] for ids in default_vocabulary().encode_batch(sources)])
    prompts = [ids for row in zip(*per_task) for ids in row][:count]
    if len(prompts) < count:
        raise SystemExit(f"only {len(prompts)} prompts available; lower --examples")
    return prompts


def hf_generate(model, prompts, batch_size, new_tokens):
    outputs = [None] * len(prompts)
    order = np.argsort([-len(p) for p in prompts], kind="stable")
    for start in range(0, len(order), batch_size):
        members = order[start:start + batch_size]
        width = 1 + max(len(prompts[i]) for i in members)
        ids = torch.full((len(members), width), PAD, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, index in enumerate(members):
            tokens = [2, *prompts[index]]
            ids[row, width - len(tokens):] = torch.as_tensor(tokens)
            mask[row, width - len(tokens):] = 1
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                                 eos_token_id=2, pad_token_id=PAD)
        for row, index in enumerate(members):
            generated = out[row, width:].tolist()
            outputs[index] = generated[:generated.index(2)] if 2 in generated else generated
    return outputs


def hf_score(model, rows, batch_size):
    scores = np.zeros(len(rows))
    order = np.argsort([-(len(i) + len(t)) for i, t in rows], kind="stable")
    for start in range(0, len(order), batch_size):
        members = order[start:start + batch_size]
        width = 1 + max(len(rows[i][0]) + len(rows[i][1]) for i in members)
        ids = torch.full((len(members), width), PAD, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, index in enumerate(members):
            tokens = [2, *rows[index][0], *rows[index][1]]
            ids[row, :len(tokens)] = torch.as_tensor(tokens)
            mask[row, :len(tokens)] = 1
        with torch.no_grad():
            log_probs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        for row, index in enumerate(members):
            inputs, targets = rows[index]
            positions = torch.arange(len(inputs), len(inputs) + len(targets))  # predicts token p + 1
            scores[index] = float(log_probs[row, positions, torch.as_tensor(targets)].sum())
    return scores


def timed(fn):
    fn()  # warm-up: compilation (ours), allocator (both)
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="opt-125m")
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS,
                        help="new tokens per generation (default: the evaluator's 256)")
    parser.add_argument("--max_prompt_tokens", type=int, default=512, help="left-truncate prompts to this")
    args = parser.parse_args()

    config = get_config(args.config)
    torch.manual_seed(0)
    hf_model = transformers.OPTForCausalLM(transformers.OPTConfig(**config.to_hf_config())).float().eval()
    params = params_from_hf_state_dict({k: v.numpy() for k, v in hf_model.state_dict().items()}, config)
    model = DecoderOnlyModel(OPT(config))
    engine = InferenceEngine(model, Partitioner(devices=jax.devices()[:1]), batch_size=args.batch_size,
                             max_new_tokens=args.max_new_tokens)
    params = jax.device_put(params, jax.devices()[0])

    prompts = real_prompts(args.examples, args.max_prompt_tokens)
    options = [default_vocabulary().encode(option) + [2] for option in OPTIONS]
    rows = [(prompt, option) for prompt in prompts for option in options]

    ours_generated, ours_generation_s = timed(lambda: engine.generate(params, prompts))
    hf_generated, hf_generation_s = timed(lambda: hf_generate(hf_model, prompts, args.batch_size, args.max_new_tokens))
    grouped = [(prompt, options) for prompt in prompts]
    ours_scores, ours_score_s = timed(lambda: np.concatenate(engine.score_options(params, grouped)))
    row_scores, row_score_s = timed(lambda: engine.score(params, rows))
    hf_scores, hf_score_s = timed(lambda: hf_score(hf_model, rows, args.batch_size))

    same_generations = float(np.mean([a == b for a, b in zip(ours_generated, hf_generated)]))
    score_error = float(max(np.max(np.abs(ours_scores - hf_scores)), np.max(np.abs(row_scores - hf_scores))))
    same_choices = float(np.mean(ours_scores.reshape(-1, 2).argmax(-1) == hf_scores.reshape(-1, 2).argmax(-1)))
    n = len(prompts)
    table = [("generation", n / ours_generation_s, n / hf_generation_s),
             ("rank classification", n / ours_score_s, n / hf_score_s),
             ("  (one row per option)", n / row_score_s, n / hf_score_s)]
    print(f"{args.config} float32, {n} real SuperNI prompts (mean {np.mean([len(p) for p in prompts]):.0f} tokens), "
          f"batch {args.batch_size}, {args.max_new_tokens} new tokens, 2 options; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), jax {jax.__version__}")
    print(f"{'pass':<22}{'ours ex/s':>12}{'HF ex/s':>12}{'ratio':>8}")
    for name, ours, hf in table:
        print(f"{name:<22}{ours:>12.2f}{hf:>12.2f}{ours / hf:>8.2f}")
    print(f"identical generations: {same_generations:.0%}; max |score difference|: {score_error:.2e}; "
          f"same option chosen: {same_choices:.0%}")
    print(json.dumps({
        "config": args.config, "examples": n, "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
        "generation_examples_per_s": {"ours": round(table[0][1], 3), "hf": round(table[0][2], 3)},
        "rank_classification_examples_per_s": {"ours": round(table[1][1], 3), "hf": round(table[1][2], 3)},
        "generation_ratio": round(table[0][1] / table[0][2], 3),
        "rank_classification_ratio": round(table[1][1] / table[1][2], 3),
        "rank_classification_rows_ratio": round(table[2][1] / table[2][2], 3),
        "identical_generations": same_generations, "max_score_difference": score_error,
    }))


if __name__ == "__main__":
    main()
