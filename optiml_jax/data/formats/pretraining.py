"""Pre-training text (§4.5): JSONL documents `{"text": ...}` (other fields, such as The Pile's
`meta`, are ignored), as a file or a folder of `*.jsonl` files read in name order.

A piece of text trains as one example with an empty source: the whole sequence is the target
(Table 6), packed with the other examples. Packing never splits an example and left-truncates one
longer than a row, so a document is cut into pieces of at most `max_chars` characters at
whitespace (6,000 characters is about 1,500 OPT tokens of English, under the 2,048-token row);
nothing of a document is dropped. Reading stops after `max_pieces` pieces (§2.1's per-task cap of
100,000 examples): lines are streamed and the rest of the corpus is never opened, so a large
shard costs a bounded first read (the skip count says the rest was not read); shuffle a shard
whose documents are ordered (e.g. by source) before pointing at it. Empty documents are counted
and skipped; a line without a string `text` raises naming the file and row.
"""

from __future__ import annotations

import os

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import read_jsonl, require
from optiml_jax.data.prompting import TEXT

MAX_CHARS = 6000
MAX_PIECES = 100_000


def split_text(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """`text` in consecutive pieces of at most `max_chars` characters, cut at the last whitespace
    before the limit (mid-word only when a single word is longer than the limit)."""
    pieces, start = [], 0
    text = text.strip()
    while len(text) - start > max_chars:
        cut = text.rfind(" ", start, start + max_chars + 1)
        cut = start + max_chars if cut <= start else cut
        pieces.append(text[start:cut].strip())
        start = cut
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def corpus_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".jsonl"))
    return [path]


def read_pretraining_task(path: str, name: str, *, files: tuple[str, ...] = (), max_chars: int = MAX_CHARS,
                          max_pieces: int = MAX_PIECES) -> TaskData:
    """`files`: the corpus files in reading order (default: `corpus_files(path)`)."""
    task = f"pretraining:{name}"
    files = files or tuple(corpus_files(path))
    if not files:
        raise DataFormatError(path, "(folder)", "no *.jsonl file in it", task)
    data = TaskData(name, "", (), [], {}, TEXT)
    for file in files:
        for number, record in read_jsonl(file, task):
            pieces = split_text(require(file, record, "text", str, f"row {number}", task), max_chars)
            if not pieces:
                data.count_skip("empty document")
            row = f"{os.path.basename(file)}:{number}"
            room = max_pieces - len(data.examples)
            data.examples += [Example(f"{row}:{index}", "", (piece,), row=row) for index, piece in enumerate(pieces[:room])]
            if len(pieces) > room:
                data.count_skip(f"pieces of {row} beyond the cap", len(pieces) - room)
            if len(data.examples) == max_pieces:
                data.count_skip(f"reading stopped at the cap of {max_pieces} pieces (§2.1) after {row}: the "
                                f"corpus's remaining lines, if any, were not read")
                return data
    return data
