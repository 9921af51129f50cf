"""Rows of a prepared TensorFlow Datasets dataset, for every reader whose data TFDS builds (FLAN,
T5, ExMix's Wiki Toxicity).

Datasets must be prepared beforehand (`tfds build <name>`, which also explains the manual
downloads some need); nothing is downloaded while reading. Rows come as `tfds.as_numpy` yields
them (text as bytes, nested features as dicts), each with a stable id
`<TFDS name>/<split string>#<row index>` that examples keep as their row.

A split over `max_rows` (§2.1's per-task cap) is read in `WINDOWS` windows of consecutive rows,
one at a seeded offset inside each hundredth of the split: a 40M-row WMT split costs its 100,000
rows, never the whole split, and the rows still come from every part of it (WMT's splits are
concatenated corpora; the first 100,000 rows would all be Europarl). Row ids keep the row's index
in the whole split.
"""

from __future__ import annotations

import glob
import os
from typing import Mapping

import numpy as np

from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.prompting import stable_task_hash

WINDOWS = 100


def capped_windows(num_rows: int, max_rows: int, seed_name: str) -> list[tuple[int, int]]:
    """[start, end) of `WINDOWS` windows (fewer for a cap under 100) holding `max_rows` rows in all
    (`num_rows` > `max_rows`), one per equal stratum of
    `num_rows`, at offsets drawn from a generator seeded by `seed_name`."""
    rng = np.random.default_rng(stable_task_hash(seed_name))
    count = min(WINDOWS, max_rows)
    sizes = [max_rows // count + (i < max_rows % count) for i in range(count)]
    bounds = np.linspace(0, num_rows, count + 1).astype(np.int64)
    windows = []
    for size, low, high in zip(sizes, bounds[:-1], bounds[1:]):
        start = int(low + rng.integers(0, max(1, high - low - size + 1)))
        windows.append((start, min(start + size, int(high))))
    return windows


def tfds_rows(tfds_name: str, split: str, data_dir: str | None, task: str,
              max_rows: int | None = None) -> list[tuple[str, Mapping]]:
    """(row id, row) for every row of `tfds_name` (e.g. `wmt14_translate/de-en:1.0.0`) in `split`
    (a TFDS split string), or `max_rows` of them in windows (module docstring) when the split has
    more; raises naming `task` (e.g. `t5:wmt14_ende_v003`) and saying how to prepare the dataset
    when it is not prepared under `data_dir`."""
    import tensorflow_datasets as tfds  # Heavy (TensorFlow); only TFDS rows need it.

    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
        windows, parts = None, split
        if max_rows is not None:
            num_rows = split_size(builder, split, task)
            if num_rows > max_rows:
                windows = capped_windows(num_rows, max_rows, f"{tfds_name}/{split}")
                parts = "+".join(f"{split}[{start}:{end}]" for start, end in windows)
        dataset = builder.as_dataset(split=parts, shuffle_files=False)
    except AssertionError as error:  # TFDS's "could not find data in <dir>".
        raise FileNotFoundError(f"{task}: TFDS dataset {tfds_name} is not prepared ({error}). Prepare it with "
                                f"`tfds build {tfds_name.split(':')[0]}` (pass --data_dir to match "
                                f"tfds_data_dir); docs/benchmark.md lists the datasets.") from None
    rows = tfds.as_numpy(dataset)
    if windows is None:
        return [(f"{tfds_name}/{split}#{index}", row) for index, row in enumerate(rows)]
    indices = (index for start, end in windows for index in range(start, end))
    return [(f"{tfds_name}/{split}#{index}", row) for index, row in zip(indices, rows)]


def split_size(builder, split: str, task: str) -> int:
    """Rows in `split` of a prepared dataset, from its metadata (`dataset_info.json`)."""
    try:
        return builder.info.splits[split].num_examples
    except KeyError as error:
        raise FileNotFoundError(f"{task}: TFDS dataset {builder.name} has no metadata for split {split!r} ({error}); "
                                f"prepare it with `tfds build {builder.name}`.") from None


def text_feature(row: Mapping, feature: str, tfds_name: str, row_id: str, task: str) -> str:
    """A text feature of a TFDS row as a string; raises naming the dataset, row and feature when the
    row has no such feature or it is not UTF-8 text."""
    if feature not in row:
        raise DataFormatError(tfds_name, f"row {row_id}.{feature}", f"missing (features: {sorted(row)})", task)
    value = row[feature]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataFormatError(tfds_name, f"row {row_id}.{feature}", f"byte {error.start} is not valid UTF-8",
                                  task) from None
    if isinstance(value, str):
        return value
    raise DataFormatError(tfds_name, f"row {row_id}.{feature}", f"expected text, found {type(value).__name__}", task)


def tfds_dataset_dir(tfds_name: str, data_dir: str) -> str | None:
    """The prepared dataset's folder (`<data_dir>/<name>/<config>/<version>`), if any; found
    without importing TensorFlow, so registration stays fast."""
    name, _, version = tfds_name.partition(":")
    folder = os.path.join(data_dir, *name.split("/"))
    candidates = [os.path.join(folder, version)] if version else sorted(glob.glob(os.path.join(folder, "*.*.*")))
    prepared = [c for c in candidates if os.path.isfile(os.path.join(c, "dataset_info.json"))]
    return prepared[-1] if prepared else None
