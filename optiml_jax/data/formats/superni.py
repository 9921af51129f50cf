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

from optiml_jax.data.examples import DataFormatError, Demonstration, Example, TaskData
from optiml_jax.data.formats.files import load_json, require, string_list

EMPTY_OUTPUT_LIST = "empty output list"


def read_superni_task(path: str, name: str) -> TaskData:
    """Reads one SuperNI task file into canonical examples (see the module docstring)."""
    task = load_json(path)
    if not isinstance(task, dict):
        raise DataFormatError(path, "(top level)", f"expected an object, found {type(task).__name__}")
    definition = string_list(path, require(path, task, "Definition", list, ""), "Definition")
    if len(definition) != 1:
        raise DataFormatError(path, "Definition", f"expected exactly one string, found {len(definition)}")

    demonstrations = []
    for position, positive in enumerate(require(path, task, "Positive Examples", list, "")):
        where = f"Positive Examples[{position}]"
        demonstrations.append(
            Demonstration(require(path, positive, "input", str, where), require(path, positive, "output", str, where))
        )

    examples, skipped = [], {}
    for position, instance in enumerate(require(path, task, "Instances", list, "")):
        where = f"Instances[{position}]"
        instance_id = require(path, instance, "id", str, where)
        text = require(path, instance, "input", str, where)
        outputs = string_list(path, require(path, instance, "output", list, where), f"{where}.output")
        if not outputs:
            skipped[EMPTY_OUTPUT_LIST] = skipped.get(EMPTY_OUTPUT_LIST, 0) + 1
            continue
        examples.append(Example(instance_id, text, outputs))
    return TaskData(name, definition[0], tuple(demonstrations), examples, skipped)
