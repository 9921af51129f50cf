"""UnifiedSKG (HKUNLP/UnifiedSKG): its instantiated seq2seq examples, and DART's original JSON.

- **UnifiedSKG records** (what its `seq2seq_construction/*.py` produce and the authors' Drive
  dump holds, App. A.1): a JSON list of objects, or JSONL with one object per line, each with the
  raw dataset fields plus `text_in` (the request: question, statement, dialogue; "" for DART and
  ToTTo), `struct_in` (the linearised structured knowledge: table, schema, triples, KB; "" for
  SQL-to-text), `seq_out` (the target), and for dev/test records often `references` (all
  references) and `description` (`task: spider`). The model input is UnifiedSKG's own
  composition (`utils/dataset.py`, `knowledge_usage = concatenate`), so the linearised structures
  stay as UnifiedSKG wrote them:

      {text_in} ; structured knowledge: {struct_in}
      {current turn} ; structured knowledge: {struct_in} ; context: {earlier turns}
          (conversational: `text_in` is "current || earlier | earlier ...", split at the first " || ")
      structured knowledge: {struct_in}      (no text_in)

  The `description` keyword that UnifiedSKG prepends (`task: spider ; ...`) is not: the task's
  instruction sentence (ours, from the catalog) takes its place (§2.2). A record whose `seq_out`
  is empty has nothing to learn or score; it is skipped and counted.
- **DART** (`dart-v1.1.1-full-{train,dev,test}.json`): a JSON list of triple-sets
  `{"tripleset": [[subject, relation, object], ...], "annotations": [{"source", "text"}, ...]}`,
  linearised as UnifiedSKG's `seq2seq_construction/dart.py` does (`subject : relation : object`
  with the relation lower-cased, joined by " | "; no text_in). One example per triple-set whose
  references are all its annotations, as UnifiedSKG builds DART's dev and test sets.

Bad input raises naming the task (`unifiedskg:<name>`), file and record: malformed JSON, a record
without `seq_out`/`text_in`/`struct_in` or with a non-string one, a record with neither text nor
structure, a triple without exactly three strings, a triple-set without annotations.
"""

from __future__ import annotations

from typing import Iterator

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import load_json, read_jsonl, require, string_list
from optiml_jax.data.prompting import INSTRUCTION

BENCHMARK = "unifiedskg"
CONVERSATION_SEPARATOR = " || "
EMPTY_SEQ_OUT = "empty seq_out (no target)"


def unifiedskg_input(text_in: str, struct_in: str) -> str:
    """UnifiedSKG's model input for a record (module docstring)."""
    if not text_in:
        return f"structured knowledge: {struct_in}"
    if CONVERSATION_SEPARATOR in text_in:
        current, history = text_in.split(CONVERSATION_SEPARATOR, 1)
        return f"{current} ; structured knowledge: {struct_in} ; context: {history}"
    return f"{text_in} ; structured knowledge: {struct_in}"


def _records(path: str, task: str) -> Iterator[tuple[str, str, object]]:
    """(id, where, record) of a JSONL file (one object per line) or a JSON file holding a list."""
    if path.endswith(".jsonl"):
        for number, record in read_jsonl(path, task):
            yield str(number), f"row {number}", record
        return
    records = load_json(path, task)
    if not isinstance(records, list):
        raise DataFormatError(path, "(top level)", f"expected a list of records, found {type(records).__name__}", task)
    for position, record in enumerate(records):
        yield str(position), f"record {position}", record


def read_unifiedskg_task(path: str, name: str, *, instruction: str) -> TaskData:
    task = f"{BENCHMARK}:{name}"
    data = TaskData(name, instruction, (), [], {}, INSTRUCTION)
    for identifier, where, record in _records(path, task):
        text_in = require(path, record, "text_in", str, where, task).strip()
        struct_in = require(path, record, "struct_in", str, where, task).strip()
        seq_out = require(path, record, "seq_out", str, where, task).strip()
        if not text_in and not struct_in:
            raise DataFormatError(path, where, "text_in and struct_in are both empty", task)
        references = record.get("references")
        if references is not None:
            references = string_list(path, require(path, record, "references", list, where, task), f"{where}.references",
                                     task)
        if not seq_out:
            data.count_skip(EMPTY_SEQ_OUT)
            continue
        others = tuple(dict.fromkeys(r.strip() for r in references or () if r.strip() and r.strip() != seq_out))
        data.examples.append(Example(identifier, unifiedskg_input(text_in, struct_in), (seq_out, *others)))
    return data


def linearize_triples(triples: list[list[str]]) -> str:
    """DART's triples the way UnifiedSKG linearises them: `s : r : o | s : r : o`, relation lower-cased."""
    return " | ".join(f"{subject} : {relation.lower()} : {obj}" for subject, relation, obj in triples)


def read_dart_task(path: str, name: str, *, instruction: str) -> TaskData:
    task = f"{BENCHMARK}:{name}"
    triple_sets = load_json(path, task)
    if not isinstance(triple_sets, list):
        raise DataFormatError(path, "(top level)", f"expected a list of triple-sets, found {type(triple_sets).__name__}",
                              task)
    examples = []
    for position, entry in enumerate(triple_sets):
        where = f"record {position}"
        triples = require(path, entry, "tripleset", list, where, task)
        for index, triple in enumerate(triples):
            if not isinstance(triple, list) or len(triple) != 3 or not all(isinstance(part, str) for part in triple):
                raise DataFormatError(path, f"{where}.tripleset[{index}]", f"expected [subject, relation, object] "
                                      f"strings, found {triple!r}", task)
        if not triples:
            raise DataFormatError(path, f"{where}.tripleset", "empty", task)
        annotations = require(path, entry, "annotations", list, where, task)
        texts = [require(path, annotation, "text", str, f"{where}.annotations[{index}]", task).strip()
                 for index, annotation in enumerate(annotations)]
        references = tuple(dict.fromkeys(text for text in texts if text))
        if not references:
            raise DataFormatError(path, f"{where}.annotations", "no non-empty annotation text", task)
        examples.append(Example(str(position), unifiedskg_input("", linearize_triples(triples)), references))
    return TaskData(name, instruction, (), examples, {}, INSTRUCTION)
