"""Peak host memory of the converter against the largest input shard.

Generates a random OPT checkpoint of at least 1 GB (float16, as OPT was released) in HF's
multi-shard layouts (safetensors, and `.bin` as transformers 4.x wrote it) and as 2 metaseq
model-parallel parts (fused K,V,Q), converts each to a float32 t5x checkpoint in a child process
that reports its own peak RSS (`VmHWM`), and compares the peak with the largest input file. The
fixed overhead (Python, JAX, Orbax, torch imports) is measured the same way on an empty
conversion (a model of a few thousand parameters) of the same format.

Target: peak <= 1.2 x largest shard + overhead. The last line is JSON (the worse format's run).

`--layout` picks the checkpoint layout written: `per-layer` (`layers_<i>`, one tensor at a time,
what the table in docs/performance.md measured) or `stacked` (the converter's default: each
stacked leaf assembled in a memory-mapped scratch file). A stacked leaf's scratch pages count in
the peak RSS (`VmHWM` includes file-backed pages) though the kernel can drop them at any time, so
each run also reports its peak anonymous memory (`RssAnon`, sampled every 5 ms): what the
converter itself holds.

    python benchmarks/convert_memory.py [--hidden 1536 --layers 16 --shard_mb 500 --layout per-layer]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TARGET = 1.2
REPO = Path(__file__).resolve().parents[1]


LAYOUTS = {"per-layer": False, "stacked": True}  # --layout -> scan_layers


def status_bytes(field: str) -> int:
    """A memory field of /proc/self/status (`VmHWM`, `RssAnon`), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (this benchmark needs Linux)")


class PeakAnonymousMemory:
    """The largest `RssAnon` seen while the block runs (Linux keeps no peak of it)."""

    def __enter__(self):
        self.peak, self._done = status_bytes("RssAnon"), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.005):
            self.peak = max(self.peak, status_bytes("RssAnon"))

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, status_bytes("RssAnon"))


def child(file_format: str, layout: str, src: str, dest: str) -> None:
    """Runs in a fresh interpreter: one conversion, then its own peak memory as JSON."""
    from optiml_jax.convert import convert_hf, convert_metaseq

    start = time.perf_counter()
    with PeakAnonymousMemory() as anonymous:
        if file_format == "metaseq":
            summary = convert_metaseq(src, dest, Path(src) / "config.json",
                                      scan_layers=LAYOUTS[layout], progress=False)
        else:
            summary = convert_hf(src, dest, dtype="float32", scan_layers=LAYOUTS[layout],
                                 progress=False)
    print(json.dumps({"peak_rss_bytes": status_bytes("VmHWM"), "peak_anon_bytes": anonymous.peak,
                      "seconds": time.perf_counter() - start,
                      "bytes_written": summary.num_bytes}))


def convert_in_child(file_format: str, layout: str, src: Path, dest: Path) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", file_format, layout, str(src),
                             str(dest)], capture_output=True, text=True, cwd=REPO)
    if result.returncode:
        raise RuntimeError(f"conversion of {src} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_checkpoint(config, directory: Path, file_format: str, shard_bytes: int) -> list[Path]:
    """A random float16 OPT in HF's or metaseq's layout; returns its weight files."""
    import torch
    import transformers

    sys.path.insert(0, str(REPO / "tests"))
    from hf_reference import save_bin_shards  # transformers 5 writes safetensors only
    from metaseq_reference import write_metaseq_parts

    torch.manual_seed(0)
    hf_config = transformers.OPTConfig(**config.to_hf_config())
    model = transformers.OPTForCausalLM(hf_config).to(torch.float16)
    if file_format == "metaseq":
        files = write_metaseq_parts(model, directory, num_parts=2)
        (directory / "config.json").write_text(json.dumps(config.to_hf_config()))
        return files
    if file_format == "safetensors":
        model.save_pretrained(directory, max_shard_size=shard_bytes)
        return sorted(directory.glob("*.safetensors"))
    return save_bin_shards(model, directory, shard_bytes, with_lm_head=False)


def largest_tensor_bytes(config, itemsize: int = 4) -> int:
    from optiml_jax.convert.hf import tensor_mappings

    return max(itemsize * int(np.prod(m.hf_shape)) for m in tensor_mappings(config))


def largest_stacked_leaf_bytes(config, itemsize: int = 4) -> int:
    from optiml_jax.convert.hf import leaf_groups

    return max(itemsize * len(g.mappings) * int(np.prod(g.mappings[0].hf_shape))
               for g in leaf_groups(config, scan_layers=True) if g.stacked)


def measure(config, tiny, workdir: Path, file_format: str, shard_bytes: int, layout: str) -> dict:
    files = write_checkpoint(config, workdir / f"{file_format}-src", file_format, shard_bytes)
    write_checkpoint(tiny, workdir / f"{file_format}-empty-src", file_format, shard_bytes)
    empty = convert_in_child(file_format, layout, workdir / f"{file_format}-empty-src",
                             workdir / f"{file_format}-empty")
    run = convert_in_child(file_format, layout, workdir / f"{file_format}-src",
                           workdir / f"{file_format}-t5x")
    largest = max(f.stat().st_size for f in files)
    above = run["peak_rss_bytes"] - empty["peak_rss_bytes"]
    return {"format": file_format, "layout": layout,
            "checkpoint_bytes": sum(f.stat().st_size for f in files),
            "shards": len(files), "largest_shard_bytes": largest,
            "largest_tensor_float32_bytes": largest_tensor_bytes(config),
            "largest_stacked_leaf_float32_bytes": largest_stacked_leaf_bytes(config),
            "peak_rss_bytes": run["peak_rss_bytes"], "overhead_bytes": empty["peak_rss_bytes"],
            "peak_anon_bytes": run["peak_anon_bytes"],
            "ratio": run["peak_rss_bytes"] / largest, "ratio_above_overhead": above / largest,
            "target_met": above <= TARGET * largest, "seconds": run["seconds"],
            "output_bytes": run["bytes_written"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("FORMAT", "LAYOUT", "SRC", "DEST"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, default=1536)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--shard_mb", type=int, default=500, help="HF max_shard_size in MB")
    parser.add_argument("--workdir", help="keep the generated files here (default: a temp dir)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="per-layer",
                        help="checkpoint layout written (see the module docstring)")
    parser.add_argument("--formats", default="safetensors,bin,metaseq",
                        help="comma-separated input formats to convert")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from optiml_jax.models.configs import OPTConfig

    config = OPTConfig(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.hidden // 64,
                       ffn_dim=4 * args.hidden)
    tiny = OPTConfig(vocab_size=64, hidden_size=16, num_layers=1, num_heads=2, ffn_dim=32,
                     max_position_embeddings=16)  # the "empty" conversion: fixed overhead only
    print(f"OPT with hidden {args.hidden}, {args.layers} layers: {config.num_params() / 1e9:.3f} B "
          f"params, {2 * config.num_params() / 1e9:.2f} GB in float16; converting to float32, "
          f"{args.layout} layout (largest stacked leaf "
          f"{largest_stacked_leaf_bytes(config) / 2**20:,.0f} MiB).")
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        runs = [measure(config, tiny, Path(workdir), file_format, args.shard_mb * 10**6,
                        args.layout)
                for file_format in args.formats.split(",")]

    mb = 2**20
    print(f"| format | checkpoint | files | largest file | largest tensor (fp32) | peak RSS | "
          f"peak anonymous | overhead (empty) | (peak - overhead) / largest file | "
          f"target <= {TARGET} | time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['format']} | {r['checkpoint_bytes'] / mb:,.0f} MiB | {r['shards']} | "
              f"{r['largest_shard_bytes'] / mb:,.0f} MiB | "
              f"{r['largest_tensor_float32_bytes'] / mb:,.0f} MiB | "
              f"{r['peak_rss_bytes'] / mb:,.0f} MiB | {r['peak_anon_bytes'] / mb:,.0f} MiB | "
              f"{r['overhead_bytes'] / mb:,.0f} MiB | {r['ratio_above_overhead']:.2f} | "
              f"{'met' if r['target_met'] else 'MISSED'} | {r['seconds']:.0f} s |")
    worst = max(runs, key=lambda r: r["ratio_above_overhead"])
    print(json.dumps({"benchmark": "convert_memory", **worst}))


if __name__ == "__main__":
    main()
