import pytest

from optiml_jax.sizes import parse_bytes


def test_sizes_in_decimal_and_binary_units():
    assert parse_bytes("5GB") == 5 * 10**9
    assert parse_bytes("40GiB") == 40 * 2**30
    assert parse_bytes(" 500mb ") == 500 * 10**6  # case-insensitive, as HF's max_shard_size
    assert parse_bytes("1.5KiB") == 1536
    assert parse_bytes("1024") == 1024


def test_a_bad_size_is_named():
    with pytest.raises(ValueError, match="'40 gigs' is not a size"):
        parse_bytes("40 gigs")
