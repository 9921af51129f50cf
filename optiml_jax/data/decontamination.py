"""13-gram overlap between training and evaluation tasks (paper §2.3), streamed and hashed.

For every (train task, evaluation task) pair the paper computes "the fraction of examples that
have any 13-gram overlap between the instantiated sequences" and examines every pair over 1% by
hand. Here an example's sequence is its instance text: the input (for PromptSource and FLAN the
template-rendered prompt) and every reference. Text that every instance of a task repeats is not
data and is left out: a task's instruction (SuperNI repeats one definition in every instance, so
two tasks whose definitions share a sentence would overlap on 100% of their examples), and on the
evaluation side a template's own words: a 13-gram found in more than half of the examples of one
evaluation template (or task) is template text (e.g. PromptSource's "Can you write an outline of
the following article in a few points? Article:"), which a training task of the same template
family shares without sharing any instance. A passage that several questions of a task reuse
(MultiRC, SQuAD) stays far under half and is counted.

Words are runs of letters and digits, lowercased. A 13-gram is hashed to 64 bits (each word by
blake2b, the 13 word hashes combined by a polynomial in uint64 arithmetic), so memory holds
hashes, never text:
1. every evaluation example's 13-gram hashes, less its template's, go into one sorted array
   (8 bytes per 13-gram);
2. each training task is streamed once; its 13-grams are looked up in that array, and only the
   hashes found are kept (a set per training task, small);
3. the evaluation examples are streamed again; an example counts for a training task when one of
   its 13-grams is in that task's found set.
The peak is the evaluation set's hashes plus one training task's; training data, the large side,
is never held. Hash collisions can only add overlaps (2^-64 per lookup), never hide one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from typing import Callable, Iterable, Iterator

import numpy as np

NGRAM = 13
THRESHOLD = 0.01  # §2.3: pairs where more than 1% of the evaluation examples overlap.
TEMPLATE_SHARE = 0.5  # A 13-gram in more than this share of one evaluation template's examples.
_WORD = re.compile(r"[^\W_]+")
_BASE = np.uint64(0x100000001B3)  # The FNV-64 prime: odd, so the combination is invertible per word.


@functools.lru_cache(maxsize=1 << 20)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def ngram_hashes(text: str, n: int = NGRAM) -> np.ndarray:
    """uint64 hashes of every n-gram of `text`'s lowercased words (empty when it has fewer)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return np.zeros(0, np.uint64)
    values = np.fromiter((_word_hash(w) for w in words), np.uint64, len(words))
    count = len(words) - n + 1
    hashes = np.zeros(count, np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(n):
            hashes = hashes * _BASE + values[offset:offset + count]
    return hashes


def example_hashes(texts: Iterable[str], n: int = NGRAM) -> np.ndarray:
    """The unique n-gram hashes of one example made of several texts (input and references):
    n-grams never span two texts."""
    parts = [ngram_hashes(text, n) for text in texts]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


def _members(hashes: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """The elements of `hashes` present in the sorted array `sorted_pool`."""
    if not len(sorted_pool) or not len(hashes):
        return np.zeros(0, np.uint64)
    positions = np.searchsorted(sorted_pool, hashes)
    positions[positions == len(sorted_pool)] = 0
    return hashes[sorted_pool[positions] == hashes]


@dataclasses.dataclass(frozen=True)
class Overlap:
    train_task: str
    eval_task: str
    overlapping: int  # Evaluation examples sharing at least one 13-gram with the training task.
    eval_examples: int
    sample: str = ""  # One shared 13-gram, to judge the pair by.

    @property
    def fraction(self) -> float:
        return self.overlapping / self.eval_examples


@dataclasses.dataclass
class OverlapReport:
    pairs: list[Overlap]  # Every pair with at least one overlapping example, largest fraction first.
    train_tasks: int
    eval_tasks: int
    train_examples: int
    eval_examples: int
    eval_ngrams: int  # Unique 13-gram hashes of the evaluation side (what memory holds).

    def over(self, threshold: float = THRESHOLD) -> list[Overlap]:
        return [pair for pair in self.pairs if pair.fraction > threshold]


Texts = Callable[[], Iterator[tuple[str, ...]]]  # A task's examples, each as its tuple of texts.


def template_ngrams(per_example: list[np.ndarray]) -> np.ndarray:
    """Sorted hashes found in more than TEMPLATE_SHARE of the examples (each array unique)."""
    if len(per_example) < 2:
        return np.zeros(0, np.uint64)
    values, counts = np.unique(np.concatenate(per_example), return_counts=True)
    return values[counts > TEMPLATE_SHARE * len(per_example)]


def _outside_template(hashes: np.ndarray, template: np.ndarray, n: int) -> np.ndarray:
    """The n-grams of one text (`hashes`, in word order) that share no word with template text:
    an n-gram straddling a template's last words and an instance's first ("...the following
    article in a few points article cnn") is as common as the template's own."""
    if not len(template) or not len(hashes):
        return hashes
    starts = np.flatnonzero(np.isin(hashes, template))
    covered = np.zeros(len(hashes) + n, np.int64)  # Words covered by template n-grams.
    np.add.at(covered, starts, 1)
    np.add.at(covered, starts + n, -1)
    words = np.cumsum(covered) > 0
    touched = np.concatenate([[0], np.cumsum(words)])  # touched[j + n] - touched[j]: template words in n-gram j.
    return hashes[(touched[n:n + len(hashes)] - touched[:len(hashes)]) == 0]


def _evaluation_examples(groups: list[Texts], n: int) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
    """Each example's texts and unique 13-gram hashes less its group's (template's) template text."""
    for group in groups:
        examples = list(group())
        hashes = [[ngram_hashes(text, n) for text in texts] for texts in examples]
        template = template_ngrams([np.unique(np.concatenate(parts)) for parts in hashes if parts])
        for texts, parts in zip(examples, hashes):
            kept = [_outside_template(values, template, n) for values in parts]
            yield texts, (np.unique(np.concatenate(kept)) if kept else np.zeros(0, np.uint64))


def _ngram_text(texts: tuple[str, ...], value: int, n: int) -> str:
    """The words of the n-gram whose hash is `value` in one of `texts` (for the report)."""
    for text in texts:
        positions = np.flatnonzero(ngram_hashes(text, n) == np.uint64(value))
        if len(positions):
            return " ".join(_WORD.findall(text.lower())[positions[0]:positions[0] + n])
    return ""


def find_overlaps(train_tasks: dict[str, Texts], eval_tasks: dict[str, list[Texts]], n: int = NGRAM) -> OverlapReport:
    """Every (train, eval) pair's overlap. `train_tasks` maps a task name to a function returning an
    iterator over its examples' texts (read once); `eval_tasks` maps an evaluation task to such
    functions, one per template (or one for the task), each read twice."""
    pool, eval_examples = [], 0
    for groups in eval_tasks.values():
        for _, values in _evaluation_examples(groups, n):
            pool.append(values)
            eval_examples += 1
    eval_pool = np.unique(np.concatenate(pool)) if pool else np.zeros(0, np.uint64)
    del pool

    found: dict[int, list[int]] = {}  # 13-gram hash → training tasks (indices) that contain it.
    train_names, train_examples = list(train_tasks), 0
    for index, name in enumerate(train_names):
        hits = set()
        for texts in train_tasks[name]():
            hits.update(_members(example_hashes(texts, n), eval_pool).tolist())
            train_examples += 1
        for value in hits:
            found.setdefault(value, []).append(index)
    found_pool = np.asarray(sorted(found), np.uint64)

    pairs = []
    for eval_name, groups in eval_tasks.items():
        counts, samples, total = {}, {}, 0
        for texts, values in _evaluation_examples(groups, n):
            total += 1
            matching = {}
            for value in _members(values, found_pool).tolist():
                for index in found[value]:
                    matching.setdefault(index, value)
            for index, value in matching.items():
                counts[index] = counts.get(index, 0) + 1
                if index not in samples:
                    samples[index] = _ngram_text(texts, value, n)
        pairs += [Overlap(train_names[i], eval_name, c, total, samples[i]) for i, c in counts.items()]
    pairs.sort(key=lambda p: (-p.fraction, p.eval_task, p.train_task))
    return OverlapReport(pairs, len(train_tasks), len(eval_tasks), train_examples, eval_examples, len(eval_pool))
