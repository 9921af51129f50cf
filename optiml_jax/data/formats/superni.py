"""Reader for Super-NaturalInstructions v2 task files (allenai/natural-instructions, `tasks/*.json`).

Schema (one JSON object per file): `Contributors, Source, URL, Categories, Reasoning, Definition,
Input_language, Output_language, Instruction_language, Domains, "Positive Examples",
"Negative Examples", Instances, "Instance License"`. This reader needs `Definition` (a list holding
one string), `Positive Examples` (objects with string `input` and `output`) and `Instances`
(objects with string `id`, string `input` and a list of string `output`s; several outputs are
several references and are all kept). Instances keep file order, so the first 100 instances of an
official test task are SuperNI's evaluation instances.

Bad input: non-UTF-8 bytes, malformed JSON, a missing or mistyped field raise `DataFormatError`
naming the file and the field (with the instance index); an instance whose `output` list is empty
cannot be trained or scored and is skipped and counted under "empty output list".
"""

from __future__ import annotations

import json

from optiml_jax.data.examples import DataFormatError, Demonstration, Example, TaskData

EMPTY_OUTPUT_LIST = "empty output list"


def _load_json(path: str):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataFormatError(
            path, "(file encoding)", f"byte {error.start} is not valid UTF-8 ({raw[error.start:error.start + 4]!r})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFormatError(
            path, "(JSON syntax)", f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None


def _require(path: str, record: dict, key: str, kind: type, where: str):
    if not isinstance(record, dict):
        raise DataFormatError(path, where, f"expected an object, found {type(record).__name__}")
    field = f"{where}.{key}" if where else key
    if key not in record:
        raise DataFormatError(path, field, "missing")
    value = record[key]
    if not isinstance(value, kind):
        raise DataFormatError(path, field, f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _string_list(path: str, values: list, field: str) -> tuple[str, ...]:
    for position, value in enumerate(values):
        if not isinstance(value, str):
            raise DataFormatError(path, f"{field}[{position}]", f"expected str, found {type(value).__name__}")
    return tuple(values)


def read_superni_task(path: str, name: str) -> TaskData:
    """Reads one SuperNI task file into canonical examples (see the module docstring)."""
    task = _load_json(path)
    if not isinstance(task, dict):
        raise DataFormatError(path, "(top level)", f"expected an object, found {type(task).__name__}")
    definition = _string_list(path, _require(path, task, "Definition", list, ""), "Definition")
    if len(definition) != 1:
        raise DataFormatError(path, "Definition", f"expected exactly one string, found {len(definition)}")

    demonstrations = []
    for position, positive in enumerate(_require(path, task, "Positive Examples", list, "")):
        where = f"Positive Examples[{position}]"
        demonstrations.append(
            Demonstration(_require(path, positive, "input", str, where), _require(path, positive, "output", str, where))
        )

    examples, skipped = [], {}
    for position, instance in enumerate(_require(path, task, "Instances", list, "")):
        where = f"Instances[{position}]"
        instance_id = _require(path, instance, "id", str, where)
        text = _require(path, instance, "input", str, where)
        outputs = _string_list(path, _require(path, instance, "output", list, where), f"{where}.output")
        if not outputs:
            skipped[EMPTY_OUTPUT_LIST] = skipped.get(EMPTY_OUTPUT_LIST, 0) + 1
            continue
        examples.append(Example(instance_id, text, outputs))
    return TaskData(name, definition[0], tuple(demonstrations), examples, skipped)
