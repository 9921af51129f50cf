"""`python -m optiml_jax.convert {hf,metaseq,export-hf} …` (see `optiml_jax.convert`, README)."""

from __future__ import annotations

import argparse
import sys

from optiml_jax.convert import ConversionError, convert_hf, convert_metaseq, export_hf
from optiml_jax.convert.export import EXPORT_DTYPES
from optiml_jax.convert.importer import IMPORT_DTYPES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m optiml_jax.convert", description=(
        "Convert OPT checkpoints to t5x/Orbax checkpoints (DEST/checkpoint_0/state, config.json, "
        "tokenizer files) and back to Hugging Face safetensors."))
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser, dtypes, default) -> None:
        sub.add_argument("--dest", required=True, help="output directory")
        sub.add_argument("--dtype", choices=dtypes, default=default,
                         help=f"dtype of the written weights (default: {default or 'as stored'})")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")

    def scan_layers_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--scan_layers", action=argparse.BooleanOptionalAction, default=True,
                         help="the stacked `layers` layout of OPT(scan_layers=True), which every "
                              "gin/models/ file uses (default); --no-scan_layers writes "
                              "layers_<i> and needs no scratch disk")

    hf = commands.add_parser("hf", help="HF directory (config.json + safetensors or .bin shards)")
    hf.add_argument("--src", required=True, help="HF checkpoint directory")
    common(hf, IMPORT_DTYPES, "float32")
    scan_layers_option(hf)

    metaseq = commands.add_parser("metaseq", help="metaseq model-parallel part files")
    metaseq.add_argument("--src", required=True,
                         help="directory of *-model_part-<n>.pt files (or one consolidated .pt)")
    metaseq.add_argument("--config", required=True,
                         help="preset (opt-125m … opt-175b) or path to an HF config.json")
    metaseq.add_argument("--tokenizer_dir", help="directory with vocab.json and merges.txt to copy")
    common(metaseq, IMPORT_DTYPES, "float32")
    scan_layers_option(metaseq)

    export = commands.add_parser("export-hf", help="t5x checkpoint → HF safetensors directory")
    export.add_argument("--src", required=True,
                        help="model directory (latest checkpoint) or a checkpoint_<step> directory")
    common(export, EXPORT_DTYPES, None)
    export.add_argument("--max_shard_size", default="5GB", help="largest safetensors file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = not args.quiet
    try:
        if args.command == "hf":
            summary = convert_hf(args.src, args.dest, dtype=args.dtype,
                                 scan_layers=args.scan_layers, progress=progress)
        elif args.command == "metaseq":
            summary = convert_metaseq(args.src, args.dest, args.config, dtype=args.dtype,
                                      scan_layers=args.scan_layers,
                                      tokenizer_dir=args.tokenizer_dir, progress=progress)
        else:
            summary = export_hf(args.src, args.dest, dtype=args.dtype,
                                max_shard_size=args.max_shard_size, progress=progress)
    except (ConversionError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
