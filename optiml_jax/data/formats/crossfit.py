"""CrossFit (INK-USC/CrossFit @ 56285ca): the TSV files its task scripts write.

Each of CrossFit's `tasks/*.py` maps a Hugging Face dataset to `(input, output)` lines and writes
them with `"{input}\\t{output}\\n"`, without a header:

- `input` is CrossFit's own serialisation: fields prefixed with their names and joined by
  `" [SEP] "` (`premise: ... [SEP] hypothesis: ...`, `question: ... context: ...`,
  `summarize: ...`). It is kept as it is (OPT-IML's "keyword" instructions, App. C); the task's
  instruction sentence (ours, from the catalog) is written before it.
- `output` may itself hold several references separated by TABs (SQuAD's answers, common_gen's
  sentences), so a line is `input \\t reference [\\t reference ...]`, the way CrossFit's own
  loader reads it (`d = line.strip().split("\\t"); (d[0], d[1:])`).

Answer options (`options`, from the task's catalog row):
- "letters": a multiple-choice task lists its choices in the input as ` (A) x (B) y ...` (labels
  A, B, ... or 1, 2, ... as the dataset gives them; Quail writes `(A)x(B)y` without spaces). The
  choices are parsed into `Example.options`, so the task can be scored by rank classification:
  each runs from its marker to the next one, the last to the next `" [SEP] "` or the end. A
  trailing " or" is dropped (QuaRel's questions read "(A) x or (B) y", and CrossFit's answer has
  no "or"). The reference must be one of the choices; when a row lists several chains of markers,
  the first chain that contains the reference is used.
- "labels": a classification task has no options in its input; its label set is the distinct
  outputs of the file (sorted), attached to every example.
- "": none (generation tasks, and SuperGLUE MultiRC, whose output is every correct answer).

Bad input raises naming the task (`crossfit:<name>`), file and row: a line without a TAB, an
empty input or no non-empty reference, a multiple-choice row whose reference is not among the
choices parsed from its input.
"""

from __future__ import annotations

import re

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import read_text, text_lines
from optiml_jax.data.prompting import INSTRUCTION

BENCHMARK = "crossfit"
LETTERED, LABELS, NO_OPTIONS = "letters", "labels", ""
OPTION_KINDS = (LETTERED, LABELS, NO_OPTIONS)
_MARKER = re.compile(r"\(([A-Z]|[1-9])\)")
_OPTIONS_END = " [SEP] "
_FIRST_LABELS = ("A", "1")


def _marker_chains(text: str) -> list[list[re.Match]]:
    """Runs of consecutive markers (A), (B), ... or (1), (2), ... in the order they occur."""
    markers = list(_MARKER.finditer(text))
    chains = []
    for start, marker in enumerate(markers):
        if marker.group(1) not in _FIRST_LABELS:
            continue
        chain = [marker]
        for following in markers[start + 1:]:
            if following.group(1) != chr(ord(chain[-1].group(1)) + 1):
                break
            chain.append(following)
        if len(chain) >= 2:
            chains.append(chain)
    return chains


def _choice_text(text: str) -> str:
    text = text.strip()
    return text[:-len(" or")].strip() if text.endswith(" or") else text


def lettered_options(text: str) -> list[tuple[str, ...]]:
    """Every candidate list of choices in a CrossFit input, one per chain of markers."""
    candidates = []
    for chain in _marker_chains(text):
        ends = [following.start() for following in chain[1:]]
        last = text.find(_OPTIONS_END, chain[-1].end())
        ends.append(len(text) if last < 0 else last)
        candidates.append(tuple(_choice_text(text[marker.end():end]) for marker, end in zip(chain, ends)))
    return candidates


def read_crossfit_task(path: str, name: str, *, instruction: str, options: str = NO_OPTIONS) -> TaskData:
    task = f"{BENCHMARK}:{name}"
    if options not in OPTION_KINDS:
        raise ValueError(f"{task}: options {options!r} is not one of {OPTION_KINDS}")
    rows = []
    for number, line in enumerate(text_lines(read_text(path, task)), start=1):
        if not line.strip():
            continue
        columns = [column.strip() for column in line.split("\t")]
        if len(columns) < 2:
            raise DataFormatError(path, f"row {number}", "expected at least 2 tab-separated columns (input, output "
                                  "[, more references]), found 1", task)
        references = tuple(column for column in columns[1:] if column)
        if not columns[0] or not references:
            raise DataFormatError(path, f"row {number}", "empty input or no non-empty reference", task)
        rows.append((number, columns[0], references))
    label_set = tuple(sorted({reference for _, _, references in rows for reference in references}))
    examples = []
    for number, text, references in rows:
        choices = None
        if options == LETTERED:
            candidates = lettered_options(text)
            choices = next((c for c in candidates if references[0] in c), None)
            if choices is None:
                raise DataFormatError(path, f"row {number}", f"the reference {references[0]!r} is not one of the "
                                      f"choices parsed from the input ({list(candidates) or 'no (A) (B) ... markers'})",
                                      task)
        elif options == LABELS:
            choices = label_set
        examples.append(Example(str(number), text, references, choices))
    return TaskData(name, instruction, (), examples, {}, INSTRUCTION)
