"""Command-line plumbing shared by our gin-configured entry points (t5x's conventions).

Flags: `--gin_file` (repeatable; later files override earlier ones), `--gin_bindings`
(repeatable), `--gin.NAME=VALUE` (rewritten to a binding, as t5x does; strings need quotes:
`--gin.MODEL_DIR=\\"/tmp/run\\"`), `--gin_search_paths` (comma list). Include paths resolve
against the search paths, the working directory and the project root, so
`include 'gin/models/opt_tiny.gin'` works from anywhere in a source checkout.

Multi-host: `--multiprocess` lets `jax.distributed.initialize()` detect the cluster (TPU pods,
SLURM, Open MPI); `--coordinator_address HOST:PORT --process_count N --process_index I` set it
explicitly (GPU clusters, CPU tests).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Sequence

import gin

# The directory holding `gin/` in a source checkout (the parent of the package).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def rewrite_gin_args(argv: Sequence[str]) -> list[str]:
    """`--gin.NAME=VALUE` → `--gin_bindings=NAME = VALUE` (other arguments pass through)."""
    out = []
    for arg in argv:
        match = re.fullmatch(r"--gin\.([^=]+)=(.*)", arg, flags=re.S)
        out.append(f"--gin_bindings={match.group(1)} = {match.group(2)}" if match else arg)
    return out


def parse_args(argv: Sequence[str], description: str | None = None,
               parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    parser = parser or argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gin_file", action="append", default=[],
                        help="gin file (repeatable; later files override earlier ones)")
    parser.add_argument("--gin_bindings", action="append", default=[],
                        help="one gin binding, e.g. 'TRAIN_STEPS = 100' (repeatable)")
    parser.add_argument("--gin_search_paths", default="",
                        help="comma-separated directories searched for gin files and includes")
    parser.add_argument("--multiprocess", action="store_true",
                        help="initialise jax.distributed with cluster auto-detection")
    parser.add_argument("--coordinator_address", help="HOST:PORT of process 0 (multi-host)")
    parser.add_argument("--process_count", type=int, help="number of processes (multi-host)")
    parser.add_argument("--process_index", type=int, help="this process's index (multi-host)")
    args = parser.parse_args(rewrite_gin_args(argv))
    if not args.gin_file:
        parser.error("at least one --gin_file is required")
    return args


def initialize_distributed(args: argparse.Namespace) -> None:
    """Connects the processes of a multi-host job; must run before JAX touches any device."""
    import jax

    explicit = (args.coordinator_address, args.process_count, args.process_index)
    if any(value is not None for value in explicit):
        if any(value is None for value in explicit):
            raise SystemExit("--coordinator_address, --process_count and --process_index go "
                             "together.")
        jax.distributed.initialize(args.coordinator_address, num_processes=args.process_count,
                                   process_id=args.process_index)
    elif args.multiprocess:
        jax.distributed.initialize()


def parse_gin(args: argparse.Namespace) -> None:
    search_paths = [p for p in args.gin_search_paths.split(",") if p]
    for path in [*search_paths, ".", str(PROJECT_ROOT)]:
        gin.add_config_file_search_path(path)
    gin.parse_config_files_and_bindings(args.gin_file, args.gin_bindings, finalize_config=True)
