"""The SuperNI catalog against the real split lists and the paper's dev/test splits."""

import collections
import os

from data_fixtures import real_data_dir
from optiml_jax.constants import FULLY_HELD_OUT, PARTIALLY_HELD_OUT
from optiml_jax.tasks import levels, superni

CATALOG = superni.load_catalog()


def _official_lists():
    folder = os.path.join(real_data_dir(), "superni", "splits", "default")
    return {split: {l.strip() for l in open(os.path.join(folder, f"{split}_tasks.txt")) if l.strip()}
            for split in ("train", "test", "excluded")}


def test_catalog_holds_the_1613_official_tasks_with_their_split():
    official = _official_lists()
    assert len(CATALOG) == superni.NUM_TASKS == sum(len(v) for v in official.values())
    assert {e.name for e in CATALOG} == set().union(*official.values())
    for entry in CATALOG:
        assert entry.name in official[entry.official_split]
    assert collections.Counter(e.official_split for e in CATALOG) == {"train": 756, "test": 119, "excluded": 738}
    assert all(e.category and e.original_category and e.source and e.num_examples > 0 for e in CATALOG)


def test_checked_in_catalog_equals_a_rebuild_from_the_real_files():
    assert superni.build_catalog(real_data_dir()) == CATALOG


def test_local_task_files_agree_with_the_catalog_except_where_they_say_misc():
    """The catalog's category and source come from FLAN's collection info for every task; measured
    on the local task files: the source always agrees (after SOURCE_OVERRIDES), the category
    except for the 11 tasks whose file says "Misc." and FLAN names a finer category."""
    import json

    folder = os.path.join(real_data_dir(), "superni", "tasks")
    by_name = {e.name: e for e in CATALOG}
    disagreements = {}
    for file_name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, file_name), encoding="utf-8") as f:
            task = json.load(f)
        entry = by_name[file_name[: -len(".json")]]
        assert entry.source == superni.SOURCE_OVERRIDES.get(entry.name, (task["Source"][0],))[0]
        if entry.original_category != task["Categories"][0]:
            disagreements[entry.name] = (task["Categories"][0], entry.original_category)
    assert len(os.listdir(folder)) == 262 and len(disagreements) == 11
    assert {file for file, _ in disagreements.values()} == {"Misc."}
    assert disagreements["task1146_country_capital"] == ("Misc.", "Country Capital Prediction")


def test_a_rebuild_with_more_task_files_whose_categories_contradict_flan_gives_the_checked_in_catalog(tmp_path):
    """More task files (as with the full data), written with categories and sources that contradict
    FLAN's collection info, change nothing: no column depends on which task files are present."""
    from data_fixtures import superni_task_record
    import json

    data = real_data_dir()
    root = tmp_path / "data"
    for part in ("superni/splits", "superni/meta", "flan"):
        os.makedirs(root / part, exist_ok=True)
        for name in os.listdir(os.path.join(data, part)):
            os.symlink(os.path.join(data, part, name), root / part / name)
    tasks = root / "superni" / "tasks"
    tasks.mkdir()
    for name in os.listdir(os.path.join(data, "superni", "tasks")):
        os.symlink(os.path.join(data, "superni", "tasks", name), tasks / name)
    extra = [e.name for e in CATALOG if not (tasks / f"{e.name}.json").exists()][:25]
    for name in extra:
        record = superni_task_record(name, [("input", ["output"])], category="Textual Entailment")
        record["Source"] = ["a contradicting source"]
        (tasks / f"{name}.json").write_text(json.dumps(record))
    assert superni.build_catalog(str(root)) == CATALOG


def test_dev_split_superni_rows_of_table_15():
    dev = {e.name: e for e in CATALOG if e.split == "dev"}
    rows = [t for t in levels.DEV_SPLIT if t.benchmark == "superni"]
    assert [t.name for t in rows] == ["Winobias", "Bard Analogical Reasoning", "Cause-Effect", "COPA", "COPA CommonSense",
                                      "Glucose", "Jfleg", "Civil Comments", "Race"]
    assert set(dev) == {task for row in rows for task in row.members}
    for row in rows:
        for task in row.members:
            assert (dev[task].category, dev[task].level) == (row.category, row.level), task
    assert collections.Counter(e.level for e in dev.values()) == {FULLY_HELD_OUT: 17, PARTIALLY_HELD_OUT: 8}
    assert dev["task1664_winobias_text_generation"].original_category == "Coreference Resolution"


def test_level_structure_holds_every_table_15_row_of_every_benchmark():
    assert len(levels.DEV_SPLIT) == 22
    assert {t.benchmark for t in levels.DEV_SPLIT} == {"superni", "promptsource", "flan", "mmlu", "reasoning"}
    assert levels.DEV_FULLY_HELD_OUT_CATEGORIES == {
        "Cause Effect Classification", "Grammar Error Correction", "Stereotype Detection", "Word Analogy"}
    assert collections.Counter(t.level for t in levels.DEV_SPLIT) == {FULLY_HELD_OUT: 10, PARTIALLY_HELD_OUT: 8, "fully_supervised": 4}


def test_test_split_is_the_44_tasks_of_table_12():
    test = [e for e in CATALOG if e.split == "test"]
    assert len(test) == 44
    assert all(e.official_split == "test" and e.level == FULLY_HELD_OUT for e in test)
    assert collections.Counter(e.category for e in test) == {
        "Textual Entailment": 24, "Coreference Resolution": 13, "Dialogue Act Recognition": 7}


def test_no_training_task_from_a_held_out_category_or_an_evaluation_source():
    held_out_categories = levels.DEV_FULLY_HELD_OUT_CATEGORIES | levels.TEST_FULLY_HELD_OUT_CATEGORIES
    evaluation_sources = {e.source for e in CATALOG if e.split in ("dev", "test")}
    evaluation_sources |= {s for t in levels.EVALUATION_TASKS if t.level != "fully_supervised" for s in t.sources}
    train = [e for e in CATALOG if e.split == "train"]
    assert train and not [e.name for e in train if e.category in held_out_categories or e.source in evaluation_sources]
    assert all(e.reason for e in CATALOG)
