"""Reasoning (chain-of-thought) data: FLAN's CoT TSV files and GSM8K's JSONL.

OPT-IML casts every reasoning task with one task-level instruction (Table 6):

    Answer the following question by reasoning step by step.
    {question}{delimiter} {rationale} The answer is {answer}.

so the target is the rationale followed by the answer, as FLAN's CoT prompts order them.

- FLAN CoT TSV (`flan/v2/cot_data/<dataset>_train.tsv`): one example per line, exactly three
  tab-separated columns `question \\t answer \\t rationale`; newlines inside a field are written as
  the two characters `\\n` and are restored, as FLAN's `simple_cot_tsv` does.
- GSM8K JSONL (openai/grade-school-math, `{"question", "answer"}`): the answer is the worked
  solution, then a line `#### <final answer>`; the rationale is the solution with the calculator
  annotations `<<48/2=24>>` removed and its lines joined with spaces (the form FLAN's GSM8K CoT
  file has).

Bad input raises naming the task, file and row: a wrong column count, an empty question or
answer, a GSM8K answer without its `####` line.
"""

from __future__ import annotations

import re

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import read_jsonl, read_text, require, text_lines
from optiml_jax.data.prompting import INSTRUCTION

INSTRUCTION_TEXT = "Answer the following question by reasoning step by step."
_CALCULATOR = re.compile(r"<<[^>]*>>")


def cot_target(rationale: str, answer: str) -> str:
    rationale = rationale.strip()
    if rationale and rationale[-1] not in ".!?":
        rationale += "."
    return f"{rationale} The answer is {answer.strip()}." if rationale else f"The answer is {answer.strip()}."


def read_cot_tsv_task(path: str, name: str) -> TaskData:
    task = f"reasoning:{name}"
    examples = []
    for number, line in enumerate(text_lines(read_text(path, task)), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != 3:
            raise DataFormatError(path, f"row {number}", f"expected 3 tab-separated columns (question, answer, "
                                  f"rationale), found {len(columns)}", task)
        question, answer, rationale = (column.replace("\\n", "\n").strip() for column in columns)
        if not question or not answer:
            raise DataFormatError(path, f"row {number}", "empty question or answer", task)
        examples.append(Example(str(number), question, (cot_target(rationale, answer),)))
    return TaskData(name, INSTRUCTION_TEXT, (), examples, {}, INSTRUCTION)


def read_gsm8k_task(path: str, name: str) -> TaskData:
    task = f"reasoning:{name}"
    examples = []
    for number, record in read_jsonl(path, task):
        where = f"row {number}"
        question = require(path, record, "question", str, where, task).strip()
        solution = require(path, record, "answer", str, where, task)
        if "####" not in solution:
            raise DataFormatError(path, f"{where}.answer", "no '#### <final answer>' line", task)
        steps, answer = solution.rsplit("####", 1)
        rationale = " ".join(line.strip() for line in text_lines(_CALCULATOR.sub("", steps)) if line.strip())
        if not question or not answer.strip():
            raise DataFormatError(path, where, "empty question or final answer", task)
        examples.append(Example(str(number), question, (cot_target(rationale, answer),)))
    return TaskData(name, INSTRUCTION_TEXT, (), examples, {}, INSTRUCTION)
