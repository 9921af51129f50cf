"""Pack tokenized examples into fixed-length rows with t5x's decoder field names.

One example is `tokens = [</s>] + ids(source) + ids(" " + target) + [</s>]` and occupies
`len(tokens) - 1` positions: `decoder_input_tokens = tokens[:-1]`, `decoder_target_tokens =
tokens[1:]` (what t5x's DecoderFeatureConverter with `bos_id=2` produces). The leading `</s>` is
the BOS OPT's tokenizer prepends at inference (metaseq packs without one; docs/benchmark.md).

Output fields, each `[rows, sequence_length]`:
- `decoder_input_tokens`, `decoder_target_tokens` (int32; 0 = padding),
- `decoder_loss_weights` (float32): 1.0 exactly on target text tokens and the final `</s>`,
- `decoder_segment_ids` (int32): 1, 2, 3, … per example in the row, 0 on padding,
- `decoder_positions` (int32): restart at 0 for every example, 0 on padding.

Examples are never split across rows. One longer than a row is left-truncated: source tokens are
dropped from the left (the BOS stays); if the target alone does not fit, the source is dropped and
the target is cut from the right, keeping the final `</s>`. Each truncation is counted by the
caller from `FittedExample.truncation`.

Row filling (`choose_row`) is greedy: the oldest waiting example opens the row, so every example
is placed within `len(pool)` rows of arriving; then the largest waiting example that still fits is
added until none fits. Looking ahead over a pool of waiting examples instead of strictly in stream
order (metaseq) is what lifts the real-token fraction above 95% (docs/benchmark.md).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from optiml_jax.constants import EOS_ID

TRUNCATED_SOURCE = "source left-truncated"
TRUNCATED_TARGET = "source dropped and target right-truncated"
FIELDS = (
    "decoder_input_tokens",
    "decoder_target_tokens",
    "decoder_loss_weights",
    "decoder_segment_ids",
    "decoder_positions",
)


@dataclasses.dataclass(frozen=True)
class FittedExample:
    tokens: np.ndarray  # int32 [length + 1]: BOS, source, target, EOS.
    num_source: int  # Source tokens kept after the BOS.
    truncation: str | None

    @property
    def length(self) -> int:
        """Positions the example occupies in a row."""
        return len(self.tokens) - 1


def fit_example(source_ids: Sequence[int], target_ids: Sequence[int], sequence_length: int) -> FittedExample:
    """Builds one example's tokens, truncating as the module docstring says so it fits a row."""
    # A row of L positions holds L + 1 tokens of one example: BOS … EOS.
    room = sequence_length - 1  # Tokens left for source + target after BOS and EOS.
    source, target, truncation = list(source_ids), list(target_ids), None
    if len(target) > room:
        source, target, truncation = [], target[:room], TRUNCATED_TARGET
    elif len(source) + len(target) > room:
        source, truncation = source[len(source) + len(target) - room :], TRUNCATED_SOURCE
    tokens = np.asarray([EOS_ID, *source, *target, EOS_ID], dtype=np.int32)
    return FittedExample(tokens, len(source), truncation)


def choose_row(lengths: Sequence[int], sequence_length: int) -> list[int]:
    """Indices (into `lengths`, oldest first) of the waiting examples that fill the next row."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return []
    chosen, space = [0], sequence_length - int(lengths[0])
    available = np.ones(len(lengths), dtype=bool)
    available[0] = False
    while True:
        candidates = available & (lengths <= space)
        if not candidates.any():
            return chosen
        best = int(np.argmax(np.where(candidates, lengths, -1)))  # Largest that fits; ties → oldest.
        chosen.append(best)
        available[best] = False
        space -= int(lengths[best])


def pack_rows(rows: Sequence[Sequence[FittedExample]], sequence_length: int) -> dict[str, np.ndarray]:
    """Writes rows of examples (each row's total length ≤ sequence_length) into t5x fields."""
    shape = (len(rows), sequence_length)
    batch = {name: np.zeros(shape, np.float32 if name == "decoder_loss_weights" else np.int32) for name in FIELDS}
    for row, examples in enumerate(rows):
        start = 0
        for segment, example in enumerate(examples, start=1):
            end = start + example.length
            if end > sequence_length:
                raise ValueError(f"pack_rows: row {row} needs {end} positions, more than {sequence_length}.")
            batch["decoder_input_tokens"][row, start:end] = example.tokens[:-1]
            batch["decoder_target_tokens"][row, start:end] = example.tokens[1:]
            # Target position j predicts tokens[j + 1]; it is a target token from num_source on.
            batch["decoder_loss_weights"][row, start + example.num_source : end] = 1.0
            batch["decoder_segment_ids"][row, start:end] = segment
            batch["decoder_positions"][row, start:end] = np.arange(example.length, dtype=np.int32)
            start = end
    return batch
