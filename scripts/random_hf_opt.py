"""Writes a randomly initialised HF `OPTForCausalLM` of one of our presets (no download).

    python scripts/random_hf_opt.py --preset tiny --dest /tmp/hf_tiny [--seed 0]

The weights are what `transformers` initialises, so a conversion test sees real HF files: a
`config.json` and `model.safetensors` exactly as `save_pretrained` writes them.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", help="an optiml_jax.models.configs preset")
    parser.add_argument("--dest", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    import transformers

    from optiml_jax.models.configs import get_config

    torch.manual_seed(args.seed)
    config = transformers.OPTConfig(**get_config(args.preset).to_hf_config())
    transformers.OPTForCausalLM(config).save_pretrained(args.dest)
    print(f"wrote a random {args.preset} OPT to {args.dest}")


if __name__ == "__main__":
    main()
