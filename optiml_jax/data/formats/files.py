"""Reading the public formats' files with errors that name task, file and field or row.

Every reader goes through these helpers, so a bad file gives the same kind of message whatever
the benchmark: `DataFormatError` with the task (`benchmark:name`), the path and the field or row.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Iterator, TypeVar

from optiml_jax.data.examples import DataFormatError

Parsed = TypeVar("Parsed")


def _require_file(path: str, task: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{task + ': ' if task else ''}data file {path} does not exist "
                                f"(docs/benchmark.md says how to get the data).")


def read_text(path: str, task: str = "") -> str:
    """The file's text; raises naming the task when it is missing or not UTF-8."""
    _require_file(path, task)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataFormatError(path, "(file encoding)",
                              f"byte {error.start} is not valid UTF-8 ({raw[error.start:error.start + 4]!r})", task) from None


def load_json(path: str, task: str = ""):
    text = read_text(path, task)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFormatError(path, "(JSON syntax)", f"malformed JSON at line {error.lineno} column {error.colno}: "
                              f"{error.msg}", task) from None


def parse_shared_file(path: str, task: str, parse: Callable[[str, str], Parsed]) -> Parsed:
    """`parse(path, text)` of the file's text, its errors naming `task`.

    For files many tasks share (FLAN's templates.py, a PromptSource templates.yaml): `parse` is
    cached by (path, text), so each text is parsed once and an edited file again, and a cached parse
    cannot know which task asked, so the task is added to its errors here.
    """
    text = read_text(path, task)
    try:
        return parse(path, text)
    except DataFormatError as error:
        raise DataFormatError(error.path, error.field, error.problem, error.task or task) from None


def text_lines(text: str) -> list[str]:
    """Lines split on newlines only: `str.splitlines` would also split on characters such as
    U+2028 that occur inside fields of the public files (a GSM8K question in FLAN's CoT data)."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def read_jsonl(path: str, task: str = "") -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-empty line, read line by line (a reader that stops
    early, at a cap, never holds the rest of a large file); a line that is not UTF-8 or not a JSON
    object raises naming its row. Lines end at "\\n" only (see `text_lines`)."""
    _require_file(path, task)
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
            except UnicodeDecodeError as error:
                raise DataFormatError(path, f"row {number}", f"byte {error.start} of the line is not valid UTF-8 "
                                      f"({raw[error.start:error.start + 4]!r})", task) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFormatError(path, f"row {number}", f"malformed JSON at column {error.colno}: {error.msg}",
                                      task) from None
            if not isinstance(record, dict):
                raise DataFormatError(path, f"row {number}", f"expected a JSON object, found {type(record).__name__}",
                                      task)
            yield number, record


def require(path: str, record, key: str, kind: type | tuple[type, ...], where: str, task: str = ""):
    """`record[key]`, checked to be of `kind`; raises naming `where` (e.g. "row 3") otherwise."""
    if not isinstance(record, dict):
        raise DataFormatError(path, where, f"expected an object, found {type(record).__name__}", task)
    field = f"{where}.{key}" if where else key
    if key not in record:
        raise DataFormatError(path, field, "missing", task)
    value = record[key]
    if not isinstance(value, kind):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataFormatError(path, field, f"expected {names}, found {type(value).__name__}", task)
    return value


def string_list(path: str, values: list, field: str, task: str = "") -> tuple[str, ...]:
    for position, value in enumerate(values):
        if not isinstance(value, str):
            raise DataFormatError(path, f"{field}[{position}]", f"expected str, found {type(value).__name__}", task)
    return tuple(values)
