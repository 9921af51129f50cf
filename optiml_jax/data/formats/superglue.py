"""SuperGLUE JSONL files (the original release, and FewGLUE, which keeps its format) as rows with the
Hugging Face `super_glue` features, which PromptSource templates and FLAN's SuperGLUE tasks read.

One table (`SUBSETS`) says, per subset, which fields a row keeps and how the label maps:

| subset   | HF features (besides `idx`, `label`)                                   | label: original → class id |
|----------|------------------------------------------------------------------------|----------------------------|
| boolq    | question, passage                                                      | false → 0, true → 1        |
| cb       | premise, hypothesis                                                    | entailment 0, contradiction 1, neutral 2 |
| copa     | premise, choice1, choice2, question                                    | 0 → 0 (choice1), 1 → 1 (choice2) |
| rte      | premise, hypothesis                                                    | entailment 0, not_entailment 1 |
| wic      | word, sentence1, sentence2, start1, start2, end1, end2                 | false → 0, true → 1        |
| wsc.fixed| text, span1_index, span2_index, span1_text, span2_text (from `target`) | false → 0, true → 1        |
| multirc  | paragraph, question, answer: one row per answer of each question       | answer.label 0/1           |
| record   | passage, query, entities (sorted unique entity texts), answers (sorted unique) | none (extractive)  |

MultiRC and ReCoRD are nested in the original files (a passage with its questions); they are
flattened exactly as the `super_glue` builder flattens them: MultiRC `idx` becomes
`{"paragraph", "question", "answer"}`, ReCoRD `idx` becomes `{"passage", "query"}`, and a ReCoRD
entity is `text[start:end + 1]` (the original's `end` is inclusive). Rows without a label (test
files, FewGLUE's `unlabeled.jsonl`) get label -1. WSC spans are repaired as the builder's "fixed"
config does when a span text does not occur in the sentence: the first letter takes the case of
the sentence's word at the span index, a final "." and newlines are dropped; a span that still
does not occur raises, naming the row.
"""

from __future__ import annotations

import dataclasses

from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats.files import read_jsonl, require

NO_LABEL = -1


@dataclasses.dataclass(frozen=True)
class Subset:
    fields: tuple[str, ...]
    labels: dict  # original label value → class id; empty for ReCoRD
    file_folder: str  # FewGLUE / SuperGLUE folder name


SUBSETS = {
    "boolq": Subset(("question", "passage"), {False: 0, True: 1}, "BoolQ"),
    "cb": Subset(("premise", "hypothesis"), {"entailment": 0, "contradiction": 1, "neutral": 2}, "CB"),
    "copa": Subset(("premise", "choice1", "choice2", "question"), {0: 0, 1: 1}, "COPA"),
    "rte": Subset(("premise", "hypothesis"), {"entailment": 0, "not_entailment": 1}, "RTE"),
    "wic": Subset(("word", "sentence1", "sentence2", "start1", "start2", "end1", "end2"), {False: 0, True: 1}, "WiC"),
    "wsc.fixed": Subset(("text", "span1_index", "span2_index", "span1_text", "span2_text"), {False: 0, True: 1}, "WSC"),
    "multirc": Subset(("paragraph", "question", "answer"), {0: 0, 1: 1}, "MultiRC"),
    "record": Subset(("passage", "query", "entities", "answers"), {}, "ReCoRD"),
}


def _label(path: str, subset: str, value, where: str, task: str) -> int:
    labels = SUBSETS[subset].labels
    # bool is an int subclass: compare types too, so `true` never matches class 1 of COPA.
    for original, class_id in labels.items():
        if type(original) is type(value) and original == value:
            return class_id
    raise DataFormatError(path, f"{where}.label", f"{value!r} is not a {subset} label (expected one of {list(labels)})", task)


def _fixed_span(path: str, row: dict, span: str, where: str, task: str) -> str:
    text, index = row[f"{span}_text"], row[f"{span}_index"]
    if text in row["text"]:
        return text
    words = row["text"].split()
    if 0 <= index < len(words) and text:
        first = text[0].lower() if words[index][0].islower() else text[0].upper()
        text = (first + text[1:]).rstrip(".").replace("\n", " ")
    if text not in row["text"]:
        raise DataFormatError(path, f"{where}.target.{span}_text", f"{row[f'{span}_text']!r} does not occur in the text", task)
    return text


def _flat_rows(path: str, subset: str, number: int, record: dict, task: str) -> list[dict]:
    where = f"row {number}"
    if subset == "multirc":
        passage = require(path, record, "passage", dict, where, task)
        rows = []
        for question in require(path, passage, "questions", list, f"{where}.passage", task):
            for answer in require(path, question, "answers", list, f"{where}.passage.questions", task):
                label = answer.get("label")
                rows.append({
                    "paragraph": require(path, passage, "text", str, f"{where}.passage", task),
                    "question": require(path, question, "question", str, f"{where}.passage.questions", task),
                    "answer": require(path, answer, "text", str, f"{where}.passage.questions.answers", task),
                    "idx": {"paragraph": record.get("idx"), "question": question.get("idx"), "answer": answer.get("idx")},
                    "label": NO_LABEL if label is None else _label(path, subset, label, where, task),
                })
        return rows
    if subset == "record":
        passage = require(path, record, "passage", dict, where, task)
        text = require(path, passage, "text", str, f"{where}.passage", task)
        entities = sorted({text[e["start"]:e["end"] + 1]
                           for e in require(path, passage, "entities", list, f"{where}.passage", task)})
        rows = []
        for qa in require(path, record, "qas", list, where, task):
            rows.append({
                "passage": text,
                "query": require(path, qa, "query", str, f"{where}.qas", task),
                "entities": entities,
                "answers": sorted({a["text"] for a in qa.get("answers", [])}),
                "idx": {"passage": record.get("idx"), "query": qa.get("idx")},
            })
        return rows
    source = {**record, **record["target"]} if subset == "wsc.fixed" and isinstance(record.get("target"), dict) else record
    row = {field: require(path, source, field, (str, int), where, task) for field in SUBSETS[subset].fields}
    if subset == "wsc.fixed":
        for span in ("span1", "span2"):
            row[f"{span}_text"] = _fixed_span(path, row, span, where, task)
    row["idx"] = record.get("idx")
    row["label"] = _label(path, subset, record["label"], where, task) if "label" in record else NO_LABEL
    return [row]


def read_superglue_rows(path: str, subset: str, task: str = "") -> list[dict]:
    """Rows of one SuperGLUE subset file with HF `super_glue` features (see the module table)."""
    if subset not in SUBSETS:
        raise ValueError(f"{task + ': ' if task else ''}SuperGLUE subset {subset!r} has no row mapping; "
                         f"known: {sorted(SUBSETS)}.")
    rows = []
    for number, record in read_jsonl(path, task):
        rows += _flat_rows(path, subset, number, record, task)
    return rows
