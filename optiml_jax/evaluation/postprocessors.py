"""Evaluation postprocessors with SeqIO's `postprocess_fn(value, example, is_target)` signature.

- `rank_classification`: the `t5` package's (`t5.data.postprocessors.rank_classification`): for
  targets `(idx, is_correct, weight, len(targets), *passthrough values)`, for predictions the score.
- `references`: generation tasks: for targets every reference of the example (SuperNI scores a
  prediction against all of them), for predictions the decoded text without surrounding
  whitespace (the model writes " " + answer, as trained).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def rank_classification(score, example: Mapping[str, Any] | None = None, is_target: bool = False,
                        passthrough_feature_keys: Sequence[str] | None = None):
    if not is_target:
        return score
    target = [tuple(int(i) for i in example["idx"]), bool(example["is_correct"]),
              float(example.get("weight", 1.0)), len(example["targets"])]
    target += [example[key] for key in passthrough_feature_keys or ()]
    return tuple(target)


def references(text: str, example: Mapping[str, Any] | None = None, is_target: bool = False):
    if not is_target:
        return text.strip()
    return [r.decode("utf-8") if isinstance(r, bytes) else str(r) for r in example["references"]]
