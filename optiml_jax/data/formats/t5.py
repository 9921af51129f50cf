"""Reader for T5's kept tasks (google-research/text-to-text-transfer-transformer `t5/data/tasks.py`):
translation and summarization rows of a TFDS dataset.

Both kinds map one text feature of a row to another, as T5's `translate` and `summarize`
preprocessors do: a WMT row `{"de": ..., "en": ...}` → input the English side, target the other
language (T5's task names read `wmt14_ende` = English to German); a CNN/DailyMail row → input the
`article`, target the `highlights`. T5's own keyword prefix ("translate English to German: ",
"summarize: ") is the task's instruction (catalog column `instruction`), laid out as keyword
benchmarks are (`prompting.INSTRUCTION`: the instruction, a newline, the input, the delimiter),
which gives App. C's `summarize: <article>\\nanswer: <summary>`.

Rows come from the prepared TFDS dataset (`optiml_jax.data.formats.tfds_rows`); each example keeps
its row id `<TFDS name>/<split>#<index>`. A row whose input or target is empty (blank lines of the
WMT crawls) is skipped and counted; a row without the named feature raises naming the task, the
dataset and the row.
"""

from __future__ import annotations

from optiml_jax.data.examples import Example, TaskData
from optiml_jax.data.formats.tfds_rows import text_feature, tfds_rows
from optiml_jax.data.prompting import INSTRUCTION

BENCHMARK = "t5"
EMPTY_TEXT = "empty input or target"


def read_t5_task(path: str | None, name: str, *, tfds_name: str, split: str, input_feature: str, target_feature: str,
                 instruction: str, tfds_data_dir: str | None = None, max_rows: int | None = None) -> TaskData:
    """`name`'s rows of TFDS dataset `tfds_name` in `split`, `input_feature` → `target_feature`.

    `path` is the prepared dataset's folder (the example cache digests its files); the rows are
    read through TFDS from `tfds_data_dir`, in windows over `max_rows` rows (§2.1's cap; a WMT
    split holds up to 40M, `tfds_rows`).
    """
    task = f"{BENCHMARK}:{name}"
    data = TaskData(name, instruction, (), [], {}, INSTRUCTION)
    for index, (row_id, row) in enumerate(tfds_rows(tfds_name, split, tfds_data_dir, task, max_rows)):
        source = text_feature(row, input_feature, tfds_name, row_id, task).strip()
        target = text_feature(row, target_feature, tfds_name, row_id, task).strip()
        if not source or not target:
            data.count_skip(EMPTY_TEXT)
            continue
        data.examples.append(Example(str(index), source, (target,), None, row_id))
    return data
