"""Training metrics: TensorBoard event files, a JSON-lines log, and a progress bar with ETA.

TensorBoard files are written with tensorboard's own event writer (no TensorFlow needed).
`metrics.jsonl` keeps every step's scalars exactly (floats round-trip through JSON), which is
what resume tests compare; on resume, lines after the restored step (and a line torn by a killed
process) are dropped so the log reads as one run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Mapping

from etils import epath
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from tqdm import tqdm

METRICS_FILE = "metrics.jsonl"

# Dense bf16 peak FLOP/s per chip (vendor specs), keyed by a substring of `device.device_kind`.
PEAK_BF16_FLOPS = {
    "H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12,
    "TPU v4": 275e12, "TPU v5 lite": 197e12, "TPU v5e": 197e12, "TPU v5p": 459e12,
    "TPU v6": 918e12,
}


def peak_flops(device) -> float | None:
    """The device's dense bf16 peak FLOP/s, or None when unknown (e.g. CPUs): MFU's divisor."""
    kind = device.device_kind.lower()
    return next((flops for name, flops in PEAK_BF16_FLOPS.items() if name.lower() in kind), None)


class MetricsWriter:
    """Scalars per step to `log_dir` (TensorBoard) and `log_dir/metrics.jsonl`."""

    def __init__(self, log_dir: str | Path, *, enabled: bool = True,
                 truncate_after_step: int | None = None):
        self.enabled = enabled
        if not enabled:
            return
        log_dir = epath.Path(log_dir)  # a local directory or a gs:// URI
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / METRICS_FILE
        if truncate_after_step is not None and path.exists():
            kept = [line for line in _complete_lines(path)
                    if json.loads(line)["step"] <= truncate_after_step]
            path.write_text("".join(line + "\n" for line in kept))
        self._jsonl = path.open("a")
        # tensorboard's own EventFileWriter opens files through `tf.io.gfile`, importing
        # TensorFlow when it is installed; the records are written here instead, through epath.
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.0"
        self._events = RecordWriter((log_dir / name).open("wb"))
        self._events.write(event_pb2.Event(wall_time=time.time(),
                                           file_version="brain.Event:2").SerializeToString())
        self._events.flush()

    def write(self, step: int, scalars: Mapping[str, float], to_tensorboard: bool = True) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps({"step": step, **scalars}) + "\n")
        self._jsonl.flush()
        if to_tensorboard:
            values = [summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in scalars.items()]
            self._events.write(event_pb2.Event(wall_time=time.time(), step=step,
                                               summary=summary_pb2.Summary(value=values)).SerializeToString())
            self._events.flush()

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._events.close()


def _complete_lines(path: Path) -> list[str]:
    """The file's lines without a torn last one (a process killed while writing it)."""
    text = path.read_text()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()
    return [line for line in lines if line]


def read_metrics(log_dir: str | Path) -> list[dict]:
    """Every logged step of a run (`model_dir/train`), in order."""
    path = epath.Path(log_dir) / METRICS_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class ProgressBar:
    """tqdm over steps, showing loss and throughput; a no-op when disabled (non-primary hosts)."""

    def __init__(self, start: int, total: int, enabled: bool = True):
        self._bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True,
                         disable=not enabled)
        self._step = start

    def update(self, step: int, scalars: Mapping[str, float]) -> None:
        self._bar.update(step - self._step)
        self._step = step
        self._bar.set_postfix(loss=f"{scalars['loss']:.4f}",
                              tok_s=f"{scalars.get('tokens_per_s', 0.0):,.0f}", refresh=False)

    def close(self) -> None:
        self._bar.close()
