"""Evaluation metrics: SuperNI's exact match and ROUGE-L, and t5's rank-classification accuracy.

Generation (`generation_metrics`), exactly as Super-NaturalInstructions' official
`evaluation.py` defines them:

- **Exact match**: both strings normalised (lowercase, every `string.punctuation` character
  removed, whitespace runs collapsed to one space and the ends stripped; articles are kept, unlike
  SQuAD); 1 when the prediction equals any reference.
- **ROUGE-L**: `rouge_score`'s `RougeScorer(["rougeL"], use_stemmer=True)` F-measure, the best
  over the references (its tokenizer lowercases, turns non-alphanumerics into spaces and stems
  tokens longer than 3 characters with Porter).
- A task's score is the mean over its examples × 100.

SuperNI's cross-lingual track (GPT-2 tokens for ROUGE) is not implemented: every OPT-IML
evaluation task is English.

Tk-Instruct reports one headline metric per category (`headline_metric`): exact match for the
classification-like categories, ROUGE-L for the rest.

Rank classification (`rank_classification`, the `t5` package's metric of that name, used with
the rows of `answer_options.option_rows` (or, under SeqIO, `optiml_jax.seqio_preprocessors`) and
`postprocessors.rank_classification`): per example the
option with the highest summed log-likelihood (divided by its token count with
`normalize_by_target_length`) is the prediction; ties go to the lowest option index
(`np.argmax`). Accuracy counts it correct when it is any correct option (several may be); with a
fixed `num_classes` F1 and, for two classes, AUC-ROC and AUC-PR of class 1 are added.
`option_predictions` is that choice itself, shared with the native evaluator.
"""

from __future__ import annotations

import collections
import functools
import itertools
import string
from typing import Sequence

import numpy as np

from optiml_jax.constants import ACCURACY, EXACT_MATCH, ROUGE_L

# Tk-Instruct's (Wang et al. 2022) headline metric per SuperNI test category: exact match for these,
# ROUGE-L for every other category (Overlap Extraction, Keyword Tagging, Question Rewriting, Title
# Generation, Data to Text, Grammar Error Correction, ...).
EXACT_MATCH_CATEGORIES = frozenset({
    "Textual Entailment", "Cause Effect Classification", "Coreference Resolution",
    "Dialogue Act Recognition", "Answerability Classification", "Word Analogy",
})

_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation, collapse whitespace (SuperNI's rule; articles stay)."""
    kept = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(kept.split())


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer  # Loads NLTK (~0.4 s); only scoring needs it.

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised reference, else 0.0."""
    _check_references(references)
    normalized = normalize_answer(prediction)
    return float(any(normalized == normalize_answer(reference) for reference in references))


def rouge_l(prediction: str, references: Sequence[str]) -> float:
    """The best ROUGE-L F-measure of the prediction against any reference (in [0, 1])."""
    _check_references(references)
    scorer = _scorer()
    return float(max(scorer.score(target=reference, prediction=prediction)["rougeL"].fmeasure
                     for reference in references))


def _check_references(references: Sequence[str]) -> None:
    if isinstance(references, str) or not references:
        raise ValueError(f"references must be a non-empty list of strings, got {references!r}")


def generation_metrics(targets: Sequence[Sequence[str]], predictions: Sequence[str]) -> dict[str, float]:
    """`{"exact_match", "rouge_l"}` in percent, averaged over examples (SuperNI's `compute_metrics`).

    `targets[i]` holds every reference of example i. The argument names make this a seqio metric
    function of the "predictions" kind.
    """
    if len(targets) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} examples")
    if not predictions:
        raise ValueError("no examples to score")
    return {
        EXACT_MATCH: 100.0 * float(np.mean([exact_match(p, refs) for p, refs in zip(predictions, targets)])),
        ROUGE_L: 100.0 * float(np.mean([rouge_l(p, refs) for p, refs in zip(predictions, targets)])),
    }


def headline_metric(category: str) -> str:
    """Tk-Instruct's reported metric for a category: exact match or ROUGE-L."""
    return EXACT_MATCH if category in EXACT_MATCH_CATEGORIES else ROUGE_L


# -- rank classification ------------------------------------------------------------------------

Target = tuple  # (idx, is_correct, weight, target length, *passthrough values)


def _sorted_and_checked(targets: Sequence[Target], scores: Sequence[float], idx_len: int):
    if len(targets) != len(scores):
        raise ValueError(f"rank_classification: {len(scores)} scores for {len(targets)} targets.")
    if not targets:
        raise ValueError("rank_classification: no options to rank.")
    if len(targets[0]) < 4:
        raise ValueError(f"rank_classification: each target must be (idx, is_correct, weight, target_length, ...), "
                         f"got {targets[0]!r}.")
    first_idx = targets[0][0]
    if not hasattr(first_idx, "__len__") or len(first_idx) != idx_len:
        raise ValueError(f"rank_classification: idx must have {idx_len} elements, got {first_idx!r}.")
    pairs = sorted(zip(targets, scores), key=lambda pair: tuple(pair[0][0]))
    counts = collections.Counter(tuple(target[0]) for target, _ in pairs)
    repeated = sorted(idx for idx, count in counts.items() if count > 1)
    if repeated:
        raise ValueError(
            f"rank_classification: idx {repeated[:3]} occur more than once, so options cannot be told apart. On "
            f"several hosts give every example a global 'example_index' feature (our tasks do).")
    return pairs


def option_predictions(targets: Sequence[Target], scores: Sequence[float], normalize_by_target_length: bool = False,
                       idx_len: int = 2) -> list[tuple[int, list[Target], np.ndarray, int]]:
    """Per example, in idx order: `(idx[0], its options' targets, their scores, chosen option)`."""
    grouped = []
    pairs = _sorted_and_checked(targets, scores, idx_len)
    for example, group in itertools.groupby(pairs, key=lambda pair: pair[0][0][0]):
        options, option_scores = zip(*group)
        values = np.asarray(option_scores, np.float64)
        if normalize_by_target_length:
            values = values / np.asarray([target[3] for target in options], np.float64)
        grouped.append((example, list(options), values, int(np.argmax(values))))
    return grouped


def rank_classification(targets: Sequence[Target], scores: Sequence[float], num_classes: int | None = None,
                        normalize_by_target_length: bool = False, idx_len: int = 2) -> dict[str, float]:
    """Accuracy in percent (weighted by the chosen option's weight); see the module docstring."""
    examples = option_predictions(targets, scores, normalize_by_target_length, idx_len)
    if not num_classes:
        correct = np.asarray([options[chosen][1] for _, options, _, chosen in examples], np.float64)
        weights = np.asarray([options[chosen][2] for _, options, _, chosen in examples], np.float64)
        return {ACCURACY: 100.0 * float(np.sum(correct * weights) / np.sum(weights))}

    sizes = {len(options) for _, options, _, _ in examples}
    if sizes != {num_classes}:
        raise ValueError(f"rank_classification: num_classes={num_classes} but examples have {sorted(sizes)} options.")
    from sklearn import metrics as sk  # Only the fixed-class path needs scikit-learn.

    labels = np.asarray([[option[1] for option in options] for _, options, _, _ in examples], np.float64)
    log_likelihoods = np.stack([values for _, _, values, _ in examples])
    predictions = np.asarray([chosen for _, _, _, chosen in examples])
    weights = np.asarray([options[0][2] for _, options, _, _ in examples], np.float64)
    if np.any(labels.sum(-1) > 1):  # Several correct options: only accuracy is defined.
        return {ACCURACY: 100.0 * float(np.average(labels[np.arange(len(labels)), predictions], weights=weights))}
    predicted = np.eye(num_classes)[predictions]
    result = {ACCURACY: 100.0 * float(sk.accuracy_score(labels, predicted, sample_weight=weights))}
    if num_classes > 2:
        f1 = sk.fbeta_score(labels, predicted, beta=1, labels=range(num_classes), average="macro",
                            sample_weight=weights)
        return {**result, f"mean_{num_classes}class_f1": 100.0 * float(f1)}
    probabilities = np.exp(log_likelihoods - log_likelihoods.max(-1, keepdims=True))
    probabilities = probabilities[:, 1] / probabilities.sum(-1)
    return {
        **result,
        "f1": 100.0 * float(sk.f1_score(labels.argmax(-1), predictions, sample_weight=weights)),
        "auc-roc": 100.0 * float(sk.roc_auc_score(labels[:, 1], probabilities, sample_weight=weights)),
        "auc-pr": 100.0 * float(sk.average_precision_score(labels[:, 1], probabilities, sample_weight=weights)),
    }
