"""Pre-training text (§4.5): JSONL documents become whole-sequence targets, cut at whitespace into
pieces that fit a packed row, capped, with bad rows named."""

import pytest

from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats.pretraining import read_pretraining_task, split_text
from optiml_jax.data.prompting import TEXT, format_source
from user_task_fixtures import write_jsonl


def test_split_text_cuts_at_whitespace_and_keeps_every_word():
    text = " ".join(f"word{i}" for i in range(1000))
    pieces = split_text(text, max_chars=100)
    assert all(len(piece) <= 100 for piece in pieces)
    assert " ".join(pieces) == text
    assert split_text("x" * 250, max_chars=100) == ["x" * 100, "x" * 100, "x" * 50]  # one over-long word
    assert split_text("   ") == []


def test_documents_become_targets_with_an_empty_source(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", [{"text": "second file", "meta": {"pile_set_name": "Wikipedia"}}])
    write_jsonl(folder / "a.jsonl", [{"text": "one two three four"}, {"text": "  "}, {"text": "five"}])
    data = read_pretraining_task(str(folder), "corpus", max_chars=11)
    assert [e.targets[0] for e in data.examples] == ["one two", "three four", "five", "second file"]
    assert [e.row for e in data.examples][:2] == ["a.jsonl:1"] * 2  # pieces of one document share its row
    assert data.layout == TEXT and format_source("", "", " Answer:", layout=data.layout) == ""
    assert data.skipped == {"empty document": 1}

    capped = read_pretraining_task(str(folder), "corpus", max_chars=11, max_pieces=2)
    assert len(capped.examples) == 2
    assert capped.skipped == {"reading stopped at the cap of 2 pieces (§2.1) after a.jsonl:1: "
                              "the corpus's remaining lines, if any, were not read": 1}


def test_reading_stops_at_the_cap_without_reading_the_rest(tmp_path):
    """A line past the cap is never read: a malformed one there raises nothing."""
    path = tmp_path / "big.jsonl"
    path.write_text('{"text": "one"}\n{"text": "two"}\nnot json at all\n')
    assert [e.targets[0] for e in read_pretraining_task(str(path), "corpus", max_pieces=2).examples] == ["one", "two"]
    with pytest.raises(DataFormatError, match="row 3: malformed JSON"):
        read_pretraining_task(str(path), "corpus", max_pieces=3)


def test_bad_pretraining_rows_are_named(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"text": "fine"}, {"content": "no text field"}])
    with pytest.raises(DataFormatError, match=r"pretraining:corpus: .*bad.jsonl: row 2.text: missing"):
        read_pretraining_task(path, "corpus")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="no \\*.jsonl file"):
        read_pretraining_task(str(tmp_path / "empty"), "corpus")
