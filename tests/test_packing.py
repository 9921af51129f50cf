"""Packing: fields, loss weights exactly on target tokens, truncation, row filling."""

import numpy as np
import pytest

from optiml_jax.data.packing import TRUNCATED_SOURCE, TRUNCATED_TARGET, choose_row, fit_example, pack_rows


def test_one_example_layout_matches_t5x_decoder_feature_converter():
    # t5x DecoderFeatureConverter (PrefixLM, bos_id=2): inputs [2, x1, x2, y1, y2, y3],
    # targets [x1, x2, y1, y2, y3, 2], loss weights [0, 0, 1, 1, 1, 1].
    example = fit_example([11, 12], [21, 22, 23], sequence_length=8)
    batch = pack_rows([[example]], 8)
    np.testing.assert_array_equal(batch["decoder_input_tokens"][0], [2, 11, 12, 21, 22, 23, 0, 0])
    np.testing.assert_array_equal(batch["decoder_target_tokens"][0], [11, 12, 21, 22, 23, 2, 0, 0])
    np.testing.assert_array_equal(batch["decoder_loss_weights"][0], [0, 0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(batch["decoder_segment_ids"][0], [1, 1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(batch["decoder_positions"][0], [0, 1, 2, 3, 4, 5, 0, 0])
    assert batch["decoder_loss_weights"].dtype == np.float32 and batch["decoder_input_tokens"].dtype == np.int32


def test_segments_restart_positions_and_weights_cover_only_targets():
    rng = np.random.default_rng(0)
    examples = [fit_example(rng.integers(4, 100, s).tolist(), rng.integers(4, 100, t).tolist(), 64)
                for s, t in [(5, 3), (10, 1), (0, 4), (7, 7)]]
    batch = pack_rows([examples[:3], examples[3:]], 64)
    segments, weights, targets = batch["decoder_segment_ids"], batch["decoder_loss_weights"], batch["decoder_target_tokens"]
    for row, row_examples in enumerate([examples[:3], examples[3:]]):
        for segment, example in enumerate(row_examples, start=1):
            where = segments[row] == segment
            assert where.sum() == example.length
            np.testing.assert_array_equal(batch["decoder_positions"][row][where], np.arange(example.length))
            # Weighted targets are exactly the target tokens and the closing EOS.
            np.testing.assert_array_equal(targets[row][where][weights[row][where] == 1], example.tokens[1 + example.num_source :])
        padding = segments[row] == 0
        assert (targets[row][padding] == 0).all() and (weights[row][padding] == 0).all()
        assert (batch["decoder_positions"][row][padding] == 0).all()


def test_over_long_examples_are_truncated_from_the_left_keeping_the_target():
    example = fit_example(list(range(10, 30)), [5, 6, 7], sequence_length=10)
    assert example.truncation == TRUNCATED_SOURCE and example.length == 10
    np.testing.assert_array_equal(example.tokens, [2, 24, 25, 26, 27, 28, 29, 5, 6, 7, 2])
    too_long_target = fit_example([10, 11], list(range(40, 60)), sequence_length=10)
    assert too_long_target.truncation == TRUNCATED_TARGET and too_long_target.num_source == 0
    np.testing.assert_array_equal(too_long_target.tokens, [2, *range(40, 49), 2])
    assert fit_example([1], [2], 10).truncation is None


def test_choose_row_opens_with_the_oldest_and_best_fits_the_rest():
    assert choose_row([6, 5, 3, 2, 4], 10) == [0, 4]  # 6 + 4 fills exactly.
    assert choose_row([9, 5, 1], 10) == [0, 2]
    assert choose_row([10, 1], 10) == [0]
    assert choose_row([], 10) == []


def test_pack_rows_rejects_an_overfull_row():
    example = fit_example([3] * 5, [4], 8)
    with pytest.raises(ValueError, match="row 0 needs 14 positions"):
        pack_rows([[example, example]], 8)
