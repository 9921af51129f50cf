"""Readers for ExMix rebuilt from its public sources (OPT-IML App. A.1): one per file format, each
told by the catalog's code table (`optiml_jax.tasks.exmix`) which columns or fields make the input
and the target, so no reader knows a dataset.

- `exmix_tsv` (`read_exmix_tsv_task`): tab-separated lines, no quoting (COGS, StylePTB, Unimer's
  FunQL, TOP, UKP). Columns are numbered from 0, or named by the first line (`header=True`).
- `exmix_csv` (`read_exmix_csv_task`): comma-separated values with quotes, the first row naming the
  columns (NewsQuizQA, DialoGLUE's CLINC150 files).
- `exmix_jsonl` (`read_exmix_jsonl_task`): JSON Lines, fields named by dotted paths; a target path
  through a list takes every element (`output.answer`: the answer of each of KILT's outputs; the first is
  the target, the others more references). A file's target may instead be a constant
  (`file_targets`: gpt-2-output-dataset's webtext vs GPT-2 files).
- `exmix_parallel` (`read_exmix_parallel_task`): two line-aligned plain-text files, source and
  target (Shakespearizing-Modern-English).
- `exmix_tfds` (`read_exmix_tfds_task`): a TFDS dataset whose text feature is classified by a 0/1
  score feature (Wiki Toxicity), through `optiml_jax.data.formats.tfds_rows`.

The delimited readers' `input_template` and `target_template` have `{column}` slots naming columns
(`"{0}"`, `"Topic: {topic}\\nSentence: {sentence}"`). Shared arguments: `instruction` (the
catalog's sentence; layout `prompting.INSTRUCTION`), `files` (every file the task reads, in order;
default `path` alone), `labels` ((raw target, answer text) pairs: the target must be a raw value and
becomes its text; the texts are every example's options), `where` ((column, value) pairs a row
must match to be read, e.g. UKP's `set` = train) and `unfilled` (the value a release writes in
place of text it does not ship: UKP's `-` before its completion step).

An example's id is its row number (`<file name>:<row>` when a task reads several files). A row whose
input or target is empty is skipped and counted; everything else that does not fit the format
raises `DataFormatError` naming the task (`exmix:<name>`), the file and the row: a missing file, a
malformed row, a wrong column count, an absent column or field, a raw target outside `labels`,
an unfilled text, source and target files of different lengths.
"""

from __future__ import annotations

import csv
import io
import os
import re
from typing import Iterator, Mapping

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import read_jsonl, read_text, require, text_lines
from optiml_jax.data.formats.tfds_rows import text_feature, tfds_rows
from optiml_jax.data.prompting import INSTRUCTION

BENCHMARK = "exmix"
EMPTY_TEXT = "empty input or target"
SCORE_THRESHOLD = 0.5  # A 0/1 score feature (TFDS's Wiki Toxicity labels) at or above it is positive.
_SLOT = re.compile(r"{(\w+)}")

Pairs = tuple[tuple[str, str], ...]


def _task(name: str) -> str:
    return f"{BENCHMARK}:{name}"


class _Examples:
    """Collects one task's examples: labels, empty-text skips and ids shared by every reader."""

    def __init__(self, name: str, instruction: str, labels: Pairs, several_files: bool):
        self.data = TaskData(name, instruction, (), [], {}, INSTRUCTION)
        self.labels = dict(labels)
        self.options = tuple(self.labels.values()) or None
        self.several_files = several_files

    def add(self, file: str, row: int, source: str, targets: list[str], task: str) -> None:
        source, stripped = source.strip(), [t.strip() for t in targets]
        targets = [t for t in stripped if t]
        if not source or not targets:
            self.data.count_skip(EMPTY_TEXT)
            return
        if len(targets) < len(stripped):  # An empty reference beside real ones is never a target.
            self.data.count_skip("empty reference", len(stripped) - len(targets))
        if self.labels:
            if targets[0] not in self.labels:
                raise DataFormatError(file, f"row {row}", f"target {targets[0]!r} is not one of {sorted(self.labels)}",
                                      task)
            targets = [self.labels[targets[0]]]
        identity = f"{os.path.basename(file)}:{row}" if self.several_files else str(row)
        self.data.examples.append(Example(identity, source, tuple(dict.fromkeys(targets)), self.options))


# -- delimited text (TSV, CSV) ----------------------------------------------------------------------

def _tsv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(text_lines(text), start=1):
        if line.strip():
            yield number, line.split("\t")


def _csv_rows(text: str, path: str, task: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):  # Rows count records; the header is row 1.
            if cells:
                yield number, cells
    except csv.Error as error:
        raise DataFormatError(path, f"row {number + 1}", f"malformed CSV: {error}", task) from None


def _slots(template: str) -> list[str]:
    return _SLOT.findall(template)


def _check_columns(path: str, names: list[str], wanted: list[str], task: str, where: str) -> None:
    absent = [column for column in wanted if column not in names]
    if absent:
        raise DataFormatError(path, where, f"no column {absent[0]!r} (columns: {names})", task)


def _render(template: str, values: Mapping[str, str], unfilled: str, path: str, row: int, task: str) -> str:
    def fill(match: re.Match) -> str:
        value = values[match.group(1)]
        if unfilled and value.strip() == unfilled:
            raise DataFormatError(path, f"row {row}.{match.group(1)}", f"is {unfilled!r}: the release ships without "
                                  f"this text; complete the files first (docs/benchmark.md, ExMix)", task)
        return value

    return _SLOT.sub(fill, template)


def _read_delimited(path: str, name: str, *, csv_quoting: bool, instruction: str, input_template: str,
                    target_template: str, files: tuple[str, ...], header: bool, columns: int | None, where: Pairs,
                    labels: Pairs, unfilled: str) -> TaskData:
    task = _task(name)
    if not header and not columns:
        raise ValueError(f"{task}: a file without a header needs `columns`, the number of columns of each row.")
    wanted = _slots(input_template) + _slots(target_template) + [column for column, _ in where]
    examples = _Examples(name, instruction, labels, len(files) > 1)
    for file in files or (path,):
        text = read_text(file, task)
        rows = _csv_rows(text, file, task) if csv_quoting else _tsv_rows(text)
        names = None if header else [str(index) for index in range(columns)]
        if names is not None:
            _check_columns(file, names, wanted, task, "(columns)")
        for number, cells in rows:
            if names is None:
                names = cells
                _check_columns(file, names, wanted, task, "(header)")
                continue
            if len(cells) != len(names):
                raise DataFormatError(file, f"row {number}", f"expected {len(names)} columns, found {len(cells)}", task)
            values = dict(zip(names, cells))
            if any(values[column] != value for column, value in where):
                continue
            examples.add(file, number, _render(input_template, values, unfilled, file, number, task),
                         [_render(target_template, values, unfilled, file, number, task)], task)
    return examples.data


def read_exmix_tsv_task(path: str, name: str, *, instruction: str, input_template: str, target_template: str,
                        files: tuple[str, ...] = (), header: bool = False, columns: int | None = None,
                        where: Pairs = (), labels: Pairs = (), unfilled: str = "") -> TaskData:
    """A tab-separated task (module docstring); `columns`: the column count of a file without header."""
    return _read_delimited(path, name, csv_quoting=False, instruction=instruction, input_template=input_template,
                           target_template=target_template, files=files, header=header, columns=columns, where=where,
                           labels=labels, unfilled=unfilled)


def read_exmix_csv_task(path: str, name: str, *, instruction: str, input_template: str, target_template: str,
                        files: tuple[str, ...] = (), where: Pairs = (), labels: Pairs = ()) -> TaskData:
    """A comma-separated task whose first row names the columns (module docstring)."""
    return _read_delimited(path, name, csv_quoting=True, instruction=instruction, input_template=input_template,
                           target_template=target_template, files=files, header=True, columns=None, where=where,
                           labels=labels, unfilled="")


# -- JSON Lines -------------------------------------------------------------------------------------

def _field_values(value, keys: list[str], path: str, where: str, task: str) -> list[str]:
    """The strings at the dotted path `keys` under `value`; a list on the way yields every element's."""
    if isinstance(value, list):
        return [text for index, item in enumerate(value)
                for text in _field_values(item, keys, path, f"{where}[{index}]", task)]
    if not keys:
        if not isinstance(value, str):
            raise DataFormatError(path, where, f"expected str, found {type(value).__name__}", task)
        return [value]
    return _field_values(require(path, value, keys[0], (dict, list, str), where, task), keys[1:], path,
                         f"{where}.{keys[0]}", task)


def _field_text(record: dict, keys: list[str], path: str, where: str, task: str) -> str:
    """The one text at the dotted path `keys` (through objects only)."""
    for key in keys[:-1]:
        record = require(path, record, key, dict, where, task)
        where = f"{where}.{key}"
    return require(path, record, keys[-1], str, where, task)


def read_exmix_jsonl_task(path: str, name: str, *, instruction: str, input_field: str, target_field: str = "",
                          files: tuple[str, ...] = (), file_targets: tuple[str, ...] = (),
                          labels: Pairs = ()) -> TaskData:
    """A JSON Lines task: `input_field` and `target_field` are dotted field paths, or each file has
    the constant target `file_targets[i]` (module docstring)."""
    task = _task(name)
    files = files or (path,)
    if bool(target_field) == bool(file_targets) or (file_targets and len(file_targets) != len(files)):
        raise ValueError(f"{task}: give either `target_field` or one entry of `file_targets` per file.")
    examples = _Examples(name, instruction, labels, len(files) > 1)
    for position, file in enumerate(files):
        for number, record in read_jsonl(file, task):
            targets = ([file_targets[position]] if file_targets else
                       _field_values(record, target_field.split("."), file, f"row {number}", task))
            examples.add(file, number, _field_text(record, input_field.split("."), file, f"row {number}", task),
                         targets, task)
    return examples.data


# -- line-aligned text ------------------------------------------------------------------------------

def _lines(path: str, task: str) -> list[str]:
    text = read_text(path, task)
    return text_lines(text[:-1] if text.endswith("\n") else text)


def read_exmix_parallel_task(path: str, name: str, *, instruction: str, target_file: str) -> TaskData:
    """Line i of `path` is the input, line i of `target_file` its target."""
    task = _task(name)
    sources, targets = _lines(path, task), _lines(target_file, task)
    if len(sources) != len(targets):
        raise DataFormatError(target_file, "(line count)", f"{len(targets)} lines, but {path} has {len(sources)}; "
                              f"the files must be line-aligned", task)
    examples = _Examples(name, instruction, (), False)
    for number, (source, target) in enumerate(zip(sources, targets), start=1):
        examples.add(path, number, source, [target], task)
    return examples.data


# -- TFDS -----------------------------------------------------------------------------------------

def read_exmix_tfds_task(path: str | None, name: str, *, instruction: str, tfds_name: str, split: str,
                         input_feature: str, score_feature: str, labels: tuple[str, str],
                         tfds_data_dir: str | None = None, max_rows: int | None = None) -> TaskData:
    """`input_feature` of each row of `tfds_name`, answered `labels[1]` when `score_feature` is at
    least `SCORE_THRESHOLD`, else `labels[0]`. `path` is the prepared dataset's folder; over
    `max_rows` rows (§2.1's cap) the split is read in windows (`tfds_rows`)."""
    task = _task(name)
    data = TaskData(name, instruction, (), [], {}, INSTRUCTION)
    for index, (row_id, row) in enumerate(tfds_rows(tfds_name, split, tfds_data_dir, task, max_rows)):
        source = text_feature(row, input_feature, tfds_name, row_id, task).strip()
        score = row.get(score_feature)
        if score is None or isinstance(score, (bytes, str)):
            problem = "missing" if score is None else f"expected a number, found {type(score).__name__}"
            raise DataFormatError(tfds_name, f"row {row_id}.{score_feature}", problem, task)
        if not source:
            data.count_skip(EMPTY_TEXT)
            continue
        answer = labels[1] if float(score) >= SCORE_THRESHOLD else labels[0]
        data.examples.append(Example(str(index), source, (answer,), tuple(labels), row_id))
    return data
