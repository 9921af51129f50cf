"""Rows of a prepared TensorFlow Datasets dataset, for every reader whose data TFDS builds (FLAN,
T5, ExMix's Wiki Toxicity).

Datasets must be prepared beforehand (`tfds build <name>`, which also explains the manual
downloads some need); nothing is downloaded while reading. Rows come as `tfds.as_numpy` yields
them (text as bytes, nested features as dicts), each with a stable id
`<TFDS name>/<split string>#<row index>` that examples keep as their row.
"""

from __future__ import annotations

from typing import Mapping

from optiml_jax.data.examples import DataFormatError


def tfds_rows(tfds_name: str, split: str, data_dir: str | None, task: str) -> list[tuple[str, Mapping]]:
    """(row id, row) for every row of `tfds_name` (e.g. `wmt14_translate/de-en:1.0.0`) in `split`
    (a TFDS split string); raises naming `task` (e.g. `t5:wmt14_ende_v003`) and saying how to
    prepare the dataset when it is not prepared under `data_dir`."""
    import tensorflow_datasets as tfds  # Heavy (TensorFlow); only TFDS rows need it.

    try:
        dataset = tfds.load(tfds_name, split=split, data_dir=data_dir, download=False, shuffle_files=False)
    except AssertionError as error:  # TFDS's "could not find data in <dir>".
        raise FileNotFoundError(f"{task}: TFDS dataset {tfds_name} is not prepared ({error}). Prepare it with "
                                f"`tfds build {tfds_name.split(':')[0]}` (pass --data_dir to match "
                                f"tfds_data_dir); docs/benchmark.md lists the datasets.") from None
    return [(f"{tfds_name}/{split}#{index}", row) for index, row in enumerate(tfds.as_numpy(dataset))]


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
