"""T5: the 36-task catalog (7 kept, 29 removed by §2.1 naming the benchmark that has the data), the
reader over TFDS rows (`tfds.testing.mock_data`), its bad input, and registration with the seven
kept tasks as the training mixture."""

from __future__ import annotations

import collections
import dataclasses
import json
import os

import pytest

from optiml_jax.data import registry
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats import READERS
from optiml_jax.data.formats import tfds_rows as tfds_rows_module
from optiml_jax.data.formats.t5 import EMPTY_TEXT, read_t5_task
from optiml_jax.data.mixing import TASK_CAP, compute_mixing_rates
from optiml_jax.data.prompting import INSTRUCTION
from optiml_jax.tasks import t5
from optiml_jax.tasks.registration import register_catalogs, task_name

tfds = pytest.importorskip("tensorflow_datasets")

WMT14_ENDE = dict(tfds_name="wmt14_translate/de-en:1.0.0", split="train", input_feature="en", target_feature="de",
                  instruction="translate English to German:")
CNN_DM = dict(tfds_name="cnn_dailymail:3.4.0", split="train", input_feature="article", target_feature="highlights",
              instruction="summarize:")
ROWS = {  # builder name → rows with the builder's features.
    "wmt14_translate": [{"de": "Hallo Welt.", "en": "Hello world."}, {"de": "", "en": "Blank German side."},
                        {"de": "Ja.", "en": "  Yes. "}],
    "cnn_dailymail": [{"article": "(CNN) -- Rain fell on Monday.", "highlights": "Rain fell.\nIt was Monday.",
                       "id": "a1", "publisher": "cnn"}],
}


def _serve(rows_by_builder: dict):
    """A `mock_data` dataset function serving the given rows (with the builder's features)."""

    def as_dataset(builder, *args, **kwargs):
        import tensorflow as tf

        rows = rows_by_builder[builder.name]
        return tf.data.Dataset.from_generator(lambda: iter(rows),
                                              output_signature=builder.info.features.get_tensor_spec())

    return as_dataset


# -- catalog --------------------------------------------------------------------------------------

def test_checked_in_catalog_equals_a_rebuild():
    assert t5.build_catalog() == t5.load_catalog()


def test_the_36_tasks_keep_the_papers_seven_and_remove_29_naming_where_their_data_is():
    entries = t5.load_catalog()
    splits = collections.Counter(e.split for e in entries)
    assert len(entries) == t5.PAPER_TASKS == 36 and splits == {"train": 7, "removed": 29}
    assert sorted(e.name for e in entries if e.split == "train") == sorted(t5.PAPER_KEPT)
    assert "glue_ax_v002" not in {e.name for e in entries}  # The 37th name: unlabelled diagnostic rows.
    for entry in entries:
        if entry.split == "removed":
            assert entry.reason.startswith(f"§2.1: removed, data source {entry.source!r} is also in ")
            assert any(f"{b} (" in entry.reason for b in ("superni", "promptsource", "flan")), entry.name
            assert entry.instruction == ""
        else:
            assert entry.reason.startswith("App. A.1: kept") and entry.instruction.endswith(":")
    by_name = {e.name: e for e in entries}
    assert "'owing to its high quality'" in by_name["cnn_dailymail_v002"].reason
    assert "flan (wmt16_translate_roen)" in by_name["wmt16_enro_v003"].reason
    assert by_name["wmt14_ende_v003"].reason.startswith("App. A.1: kept, no other benchmark has its data")
    assert len({e.original_category for e in entries}) == 9  # Table 1: nine T5 clusters.


def test_every_row_names_its_tfds_dataset_a_count_and_the_reader_features():
    for task in t5.TASKS:
        name, _, version = task.tfds_name.partition(":")
        assert tfds.builder_cls(name.split("/")[0]) and version.count(".") == 2, task.name
        assert task.category and task.original_category and task.source and task.num_examples >= 0
        assert bool(task.input_feature) == (task.name in t5.PAPER_KEPT)
    kept = [task for task in t5.TASKS if task.name in t5.PAPER_KEPT]
    assert {(t.input_feature, t.target_feature) for t in kept} == {("en", "de"), ("en", "fr"), ("en", "ro"),
                                                                    ("article", "highlights")}
    assert all(t.num_examples > 0 for t in kept)


# -- reader ---------------------------------------------------------------------------------------

def test_translation_reads_the_english_side_as_input_and_skips_empty_rows(tmp_path):
    with tfds.testing.mock_data(as_dataset_fn=_serve(ROWS)):
        data = read_t5_task(None, "wmt14_ende_v003", tfds_data_dir=str(tmp_path), **WMT14_ENDE)
    assert data.layout == INSTRUCTION and data.instruction == "translate English to German:"
    assert [(e.input, e.targets) for e in data.examples] == [("Hello world.", ("Hallo Welt.",)), ("Yes.", ("Ja.",))]
    assert [e.row for e in data.examples] == [f"wmt14_translate/de-en:1.0.0/train#{i}" for i in (0, 2)]
    assert data.skipped == {EMPTY_TEXT: 1}


def test_summarization_reads_article_to_highlights(tmp_path):
    with tfds.testing.mock_data(as_dataset_fn=_serve(ROWS)):
        data = read_t5_task(None, "cnn_dailymail_v002", tfds_data_dir=str(tmp_path), **CNN_DM)
    [example] = data.examples
    assert (example.input, example.targets) == ("(CNN) -- Rain fell on Monday.", ("Rain fell.\nIt was Monday.",))
    assert data.instruction == "summarize:"


@pytest.mark.parametrize("name", t5.PAPER_KEPT)
def test_every_kept_task_reads_random_mock_rows_of_its_dataset(name, tmp_path):
    task = {t.name: t for t in t5.TASKS}[name]
    with tfds.testing.mock_data(num_examples=3):
        data = read_t5_task(None, name, tfds_name=task.tfds_name, split="train", input_feature=task.input_feature,
                            target_feature=task.target_feature, instruction=task.instruction,
                            tfds_data_dir=str(tmp_path))
    assert len(data.examples) + sum(data.skipped.values()) == 3


# -- bad input ------------------------------------------------------------------------------------

def test_an_unprepared_dataset_raises_naming_the_task_and_how_to_prepare_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"t5:wmt14_ende_v003: TFDS dataset wmt14_translate/de-en:1.0.0 is not "
                                                r"prepared .*`tfds build wmt14_translate/de-en`"):
        read_t5_task(None, "wmt14_ende_v003", tfds_data_dir=str(tmp_path), **WMT14_ENDE)


def test_an_absent_feature_raises_naming_task_dataset_row_and_feature(tmp_path):
    with tfds.testing.mock_data(as_dataset_fn=_serve(ROWS)), pytest.raises(DataFormatError) as error:
        read_t5_task(None, "wmt14_ende_v003", tfds_data_dir=str(tmp_path), **{**WMT14_ENDE, "target_feature": "fr"})
    assert (error.value.task, error.value.path) == ("t5:wmt14_ende_v003", "wmt14_translate/de-en:1.0.0")
    assert error.value.field == "row wmt14_translate/de-en:1.0.0/train#0.fr"
    assert error.value.problem == "missing (features: ['de', 'en'])"


def test_text_that_is_not_utf8_raises_naming_the_row(tmp_path):
    bad = _serve({"wmt14_translate": [{"de": b"\xff\xfe", "en": b"Hello."}]})
    with tfds.testing.mock_data(as_dataset_fn=bad), pytest.raises(DataFormatError) as error:
        read_t5_task(None, "wmt14_ende_v003", tfds_data_dir=str(tmp_path), **WMT14_ENDE)
    assert str(error.value) == ("t5:wmt14_ende_v003: wmt14_translate/de-en:1.0.0: row wmt14_translate/de-en:1.0.0/"
                                "train#0.de: byte 0 is not valid UTF-8")


# -- registration ---------------------------------------------------------------------------------

def _prepare(folder, tfds_name: str) -> None:
    name, _, version = tfds_name.partition(":")
    prepared = os.path.join(folder, *name.split("/"), version)
    os.makedirs(prepared, exist_ok=True)
    with open(os.path.join(prepared, "dataset_info.json"), "w") as f:
        json.dump({"name": name}, f)


def test_registration_trains_on_the_seven_kept_tasks_and_reads_them_through_the_registry(tmp_path, monkeypatch):
    monkeypatch.setitem(READERS, "t5", read_t5_task)
    for task in t5.TASKS:  # Prepare every dataset: the removed tasks must stay out all the same.
        _prepare(tmp_path, task.tfds_name)
    entries = [dataclasses.replace(e, benchmark="t5_fixture") for e in t5.load_catalog()]
    catalog = t5.t5_benchmark(entries, tfds_data_dir=str(tmp_path))
    report = register_catalogs([catalog], namespace="t5_fixture", proportions=None)

    kept = {task_name(e): ("t5_fixture", min(e.num_examples, TASK_CAP)) for e in entries if e.name in t5.PAPER_KEPT}
    for mixture in ("t5_fixture_train", "t5_fixture_max_train", "t5_fixture_t5_fixture_train"):
        rates = dict(registry.get_mixture(mixture).rates)
        assert rates == compute_mixing_rates(kept, proportions=None).rates, mixture
    assert report.absent == {"t5_fixture": 29} and report.present == {"t5_fixture": 7}

    spec = registry.get_task("t5_fixture:wmt14_ende_v003")
    assert spec.path == os.path.join(str(tmp_path), "wmt14_translate", "de-en", "1.0.0")
    assert dict(spec.reader_args)["max_rows"] == TASK_CAP
    # Mocked datasets carry no split metadata; ROWS' 3 rows are under the cap.
    monkeypatch.setattr(tfds_rows_module, "split_size", lambda builder, split, task: len(ROWS["wmt14_translate"]))
    with tfds.testing.mock_data(as_dataset_fn=_serve(ROWS), policy=tfds.testing.MockPolicy.USE_CODE):
        data = READERS[spec.reader](spec.path, spec.source_name, **dict(spec.reader_args))
    assert data.examples[0].input == "Hello world." and data.instruction == "translate English to German:"


def test_a_split_over_the_cap_is_read_in_seeded_windows_over_all_of_it(monkeypatch):
    """§2.1's cap on a 40M-row WMT split: 100 windows, one per hundredth of the split, so the rows
    come from every corpus the split concatenates and the rest is never read."""
    windows = tfds_rows_module.capped_windows(40_000_000, TASK_CAP, "wmt14_translate/de-en:1.0.0/train")
    assert len(windows) == 100 and sum(end - start for start, end in windows) == TASK_CAP
    assert all(k * 400_000 <= start and end <= (k + 1) * 400_000 for k, (start, end) in enumerate(windows))
    assert windows == tfds_rows_module.capped_windows(40_000_000, TASK_CAP, "wmt14_translate/de-en:1.0.0/train")
    assert windows != tfds_rows_module.capped_windows(40_000_000, TASK_CAP, "wmt15_translate/fr-en:1.0.0/train")

    requested = []

    def serve(builder, *args, split=None, **kwargs):
        requested.append(split)
        return _serve(ROWS)(builder, *args, **kwargs)

    monkeypatch.setattr(tfds_rows_module, "split_size", lambda builder, split, task: 1000)
    with tfds.testing.mock_data(as_dataset_fn=serve, policy=tfds.testing.MockPolicy.USE_CODE):
        data = read_t5_task(None, "wmt14_ende_v003", tfds_name="wmt14_translate/de-en:1.0.0", split="train",
                            input_feature="en", target_feature="de", instruction="translate English to German:",
                            max_rows=3)
    expected = tfds_rows_module.capped_windows(1000, 3, "wmt14_translate/de-en:1.0.0/train")
    assert requested == ["+".join(f"train[{a}:{b}]" for a, b in expected)]
    # Row ids keep each row's index in the whole split; the blank second row is skipped.
    assert [e.row for e in data.examples] == [f"wmt14_translate/de-en:1.0.0/train#{expected[i][0]}" for i in (0, 2)]
