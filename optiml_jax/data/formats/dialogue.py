"""Dialogue data for the §4.7 ablation (off in the final mixtures): ParlAI episodes, Schema-Guided
Dialogue, and BANKING77 intents.

A dialogue trains as one example with an empty source whose whole text is the target, turns
separated by a single newline (Table 6), so the loss covers every turn.

- **ParlAI text format** (what `parlai display_data` / `--datatype train` dumps and ParlAI's
  `ParlAIDialogTeacher` reads; the paper's Wizard of Internet, Wizard of Wikipedia, Blended Skill
  Talk, ConvAI2, Multi-Session Chat and LIGHT are all served this way): one line per exchange,
  tab-separated `key:value` fields — `text` (the partner's turn, which in a first line may start
  with context such as persona or topic lines), `labels` (the reply; several candidates are
  separated by `|`, the first is used), `episode_done:True` on an episode's last line. Inside
  values `\\n` and `\\t` stand for newline and tab.
- **Schema-Guided Dialogue** (`dialogues_*.json`): a list of dialogues, each with `dialogue_id` and
  `turns` [{`speaker`, `utterance`}]; the utterances in order make the text.
- **BANKING77** (`train.csv` / `test.csv` with header `text,category`, and `categories.json`): intent
  classification of a customer message; the 77 intents (underscores read as spaces) are the
  answer options, so it can be scored by rank classification.

Bad input raises naming the task, file and row: a ParlAI line without `text`, a field without
":", a last episode that never ends; malformed SGD JSON, an SGD dialogue without turns or a turn
without an utterance; a BANKING77 row without exactly two columns or whose intent is not in
`categories.json`.
"""

from __future__ import annotations

import csv
import io
import os

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import load_json, read_text, require, text_lines
from optiml_jax.data.prompting import INSTRUCTION, TEXT

BANKING77_INSTRUCTION = "Which banking intent does this customer message express?"


def _parlai_fields(line: str, path: str, number: int, task: str) -> dict[str, str]:
    fields = {}
    for part in line.split("\t"):
        if not part:
            continue
        if ":" not in part:
            raise DataFormatError(path, f"row {number}", f"field {part[:40]!r} is not key:value", task)
        key, value = part.split(":", 1)
        fields[key] = value.replace("\\n", "\n").replace("\\t", "\t")
    return fields


def read_parlai_task(path: str, name: str) -> TaskData:
    task = f"dialogue:{name}"
    examples, turns, first_row = [], [], None
    for number, line in enumerate(text_lines(read_text(path, task)), start=1):
        if not line.strip():
            continue
        fields = _parlai_fields(line, path, number, task)
        if "text" not in fields:
            raise DataFormatError(path, f"row {number}", "no 'text' field", task)
        first_row = first_row or number
        turns.append(fields["text"].strip())
        if fields.get("labels"):
            turns.append(fields["labels"].split("|")[0].strip())
        if fields.get("episode_done", "").lower() == "true":
            examples.append(Example(f"episode-{first_row}", "", ("\n".join(t for t in turns if t),)))
            turns, first_row = [], None
    if turns:
        raise DataFormatError(path, f"row {first_row}", "the last episode has no episode_done:True line", task)
    return TaskData(name, "", (), examples, {}, TEXT)


def read_sgd_task(path: str, name: str, *, files: tuple[str, ...] = ()) -> TaskData:
    task = f"dialogue:{name}"
    examples = []
    for file in files or (path,):
        dialogues = load_json(file, task)
        if not isinstance(dialogues, list):
            raise DataFormatError(file, "(top level)", f"expected a list of dialogues, found {type(dialogues).__name__}", task)
        for position, dialogue in enumerate(dialogues):
            where = f"dialogue {position}"
            turns = require(file, dialogue, "turns", list, where, task)
            if not turns:
                raise DataFormatError(file, f"{where}.turns", "empty", task)
            text = "\n".join(require(file, turn, "utterance", str, f"{where}.turns[{index}]", task).strip()
                             for index, turn in enumerate(turns))
            examples.append(Example(f"{os.path.basename(file)}:{require(file, dialogue, 'dialogue_id', str, where, task)}",
                                    "", (text,)))
    return TaskData(name, "", (), examples, {}, TEXT)


def _intent(category: str) -> str:
    return category.replace("_", " ")


def read_banking77_task(path: str, name: str, *, categories: str) -> TaskData:
    task = f"dialogue:{name}"
    known = load_json(categories, task)
    if not isinstance(known, list) or not all(isinstance(c, str) for c in known):
        raise DataFormatError(categories, "(top level)", "expected a list of intent names", task)
    options = tuple(_intent(c) for c in known)
    reader = csv.DictReader(io.StringIO(read_text(path, task)))
    if reader.fieldnames != ["text", "category"]:
        raise DataFormatError(path, "(header)", f"expected columns text,category, found {reader.fieldnames}", task)
    examples = []
    for number, row in enumerate(reader, start=2):  # The header is row 1.
        # csv.DictReader files surplus cells under None and fills missing ones with None.
        if None in row or None in row.values():
            cells = sum(value is not None for key, value in row.items() if key is not None) + len(row.get(None, ()))
            raise DataFormatError(path, f"row {number}", f"expected 2 columns (text, category), found {cells}; "
                                  f"quote a text that contains a comma", task)
        if row["category"] not in known:
            raise DataFormatError(path, f"row {number}.category", f"{row['category']!r} is not in {categories}", task)
        examples.append(Example(str(number), row["text"].strip(), (_intent(row["category"]),), options))
    return TaskData(name, BANKING77_INSTRUCTION, (), examples, {}, INSTRUCTION)
