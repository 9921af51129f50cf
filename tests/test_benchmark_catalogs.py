"""Every benchmark's checked-in catalog against a rebuild from its public files, the evaluation rows'
member tasks, and the split rules across benchmarks (no training task shares a held-out category
or data source)."""

import collections
import os
import subprocess
import sys

import pytest

import optiml_jax.tasks as bench
from data_fixtures import real_data_dir
from optiml_jax.constants import FULLY_HELD_OUT, FULLY_SUPERVISED, PARTIALLY_HELD_OUT
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.tasks import dialogue, levels, promptsource, reasoning, splits, superni
from optiml_jax.tasks.__main__ import local_backing

CATALOGS = {catalog.benchmark: list(catalog.entries) for catalog in bench.benchmarks()}
ALL_ENTRIES = [entry for entries in CATALOGS.values() for entry in entries]


def test_promptsource_catalog_equals_a_rebuild_from_the_templates():
    rebuilt = promptsource.build_catalog(os.path.join(real_data_dir(), "promptsource", "templates"))
    assert rebuilt == CATALOGS["promptsource"]
    assert len(rebuilt) == 281  # 279 templates files, ANLI's split into its 3 rounds (paper: 280).
    assert set(promptsource.datasets_table()) == {promptsource.folder_of(e.name) for e in rebuilt}


def test_reasoning_and_dialogue_catalogs_equal_their_rebuilds():
    assert reasoning.build_catalog() == CATALOGS["reasoning"] and len(CATALOGS["reasoning"]) == reasoning.PAPER_TASKS
    assert dialogue.build_catalog() == CATALOGS["dialogue"]


def test_promptsource_prompts_are_its_original_task_templates():
    by_name = {e.name: e for e in CATALOGS["promptsource"]}
    assert by_name["super_glue/copa"].prompts == 12 and by_name["anli_r2"].prompts == 15
    held = [e for e in CATALOGS["promptsource"] if e.reason == promptsource.NO_ORIGINAL_TEMPLATE]
    assert held and all(e.split == "held_out" for e in held)
    assert by_name["blended_skill_talk"].level == FULLY_SUPERVISED  # An evaluation row keeps it, all templates.
    mean = sum(e.prompts for e in CATALOGS["promptsource"]) / len(CATALOGS["promptsource"])
    assert 5.0 < mean < 6.5  # Table 1: 5.7 prompts per task.


def test_every_member_task_of_an_evaluation_row_is_catalogued_at_its_level():
    for row in levels.EVALUATION_TASKS:
        if row.benchmark not in CATALOGS:
            assert not row.members, row
            continue
        by_name = {e.name: e for e in CATALOGS[row.benchmark]}
        for member in row.members:
            entry = by_name[member]
            assert (entry.split, entry.level, entry.category) == (row.split, row.level, row.category), (row.name, member)


def test_dev_and_test_rows_with_readers_have_member_tasks():
    with_readers = {"superni", "promptsource", "flan", "reasoning"}
    rows = [r for r in levels.EVALUATION_TASKS if r.benchmark in with_readers]
    assert rows and all(r.members for r in rows)
    counts = collections.Counter((e.benchmark, e.level) for e in ALL_ENTRIES if e.split == "dev")
    assert counts[("promptsource", FULLY_SUPERVISED)] == 3 and counts[("reasoning", PARTIALLY_HELD_OUT)] == 2
    assert counts[("promptsource", FULLY_HELD_OUT)] == 5  # The four WinoBias subsets and COPA.


def test_no_training_task_of_any_benchmark_shares_a_held_out_category_or_source():
    held_sources = splits.held_out_sources()
    for entry in ALL_ENTRIES:
        if entry.split == "train":
            assert entry.category not in splits.FULLY_HELD_OUT_CATEGORIES, entry
            assert entry.source not in held_sources, (entry, held_sources.get(entry.source))
        assert entry.reason, entry


def test_every_catalog_task_has_a_category_source_and_count():
    for entry in ALL_ENTRIES:
        assert entry.category and entry.source and entry.num_examples >= 0 and entry.prompts >= 1, entry


@pytest.mark.slow
def test_stats_prints_catalog_against_table_1_and_local_presence():
    real_data_dir()
    result = subprocess.run([sys.executable, "-m", "optiml_jax.tasks", "stats", "--top", "3"], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    table = result.stdout.split("Tasks per benchmark")[1].split("\n\n")[0]
    rows = {line.split()[0]: line.split()[1:8] for line in table.splitlines()[2:] if line.strip()}
    # catalog, paper, kept (all but §2.1's removed), train, dev, test, present locally
    columns = {b: dict(zip(["catalog", "paper", "kept", "present"], [r[0], r[1], r[2], r[6]])) for b, r in rows.items()}
    paper = {"superni": "1613", "promptsource": "280", "crossfit": "159", "flan": "70", "exmix": "14", "t5": "36",
             "unifiedskg": "21", "reasoning": "14"}
    assert {b: columns[b]["paper"] for b in paper} == paper
    assert {b: columns[b]["catalog"] for b in paper} == {**paper, "promptsource": "281", "crossfit": "160"}
    assert (columns["crossfit"]["kept"], columns["t5"]["kept"], columns["exmix"]["kept"]) == ("13", "7", "14")
    assert (columns["superni"]["present"], columns["reasoning"]["present"], columns["unifiedskg"]["present"]) == (
        "262", "7", "1")  # UnifiedSKG: DART's dev set
    assert "ANLI" in table and "OPT-IML Bench (Table 1's eight benchmarks):" in table
    assert "(paper: 1,991); train split" in table and "(paper: 1,545;" in table
    assert "P3: 18 file(s) without rendered targets left out" in result.stdout
    assert "  flan: 1 train task present locally, 32 examples, carries " in result.stdout


def test_stats_says_how_many_local_examples_carry_each_benchmarks_share(tmp_path):
    real_data_dir()
    lines = local_backing("opt_iml_train", ExampleStore(str(tmp_path))).splitlines()
    per_benchmark = {line.split(":")[0].strip(): line.strip() for line in lines[1:]}
    shares = bench.REPORT.mixing["opt_iml_train"].benchmark_shares
    assert set(per_benchmark) == set(shares)
    # FLAN's whole share rests on FewGLUE's 32 ReCoRD rows: each is drawn thousands of times.
    flan = per_benchmark["flan"]
    assert flan.startswith(f"flan: 1 train task present locally, 32 examples, carries {100 * shares['flan']:.2f}% "
                           f"of opt_iml_train (each example drawn about ")
    assert int(flan.split("about ")[1].split(" ")[0].replace(",", "")) == round(shares["flan"] * 1e6 / 32)
    superni_tasks = sum(name.startswith("superni:") for name, _ in registry.get_mixture("opt_iml_train").rates)
    assert per_benchmark["superni"].startswith(f"superni: {superni_tasks} train tasks present locally, ")
    assert superni.NUM_TASKS == 1613


def _mirror(source: str, target) -> None:
    """`source`'s tree under `target`: real folders, files linked (so more can be added)."""
    for folder, _, files in os.walk(source):
        mirrored = target / os.path.relpath(folder, source)
        mirrored.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.symlink(os.path.join(folder, name), mirrored / name)


def test_every_catalog_rebuilds_unchanged_from_a_data_root_with_more_files(tmp_path, monkeypatch):
    """No catalog depends on which data files are present: with more of them (as with the full
    data), written to contradict the secondary sources, every builder gives the checked-in catalog."""
    import json

    from data_fixtures import superni_task_record
    from optiml_jax.tasks.__main__ import CATALOG_BUILDERS
    from optiml_jax.tasks.catalog import load_packaged_catalog

    root = tmp_path / "data"
    _mirror(real_data_dir(), root)
    tasks = root / "superni" / "tasks"
    for entry in [e for e in superni.load_catalog() if not (tasks / f"{e.name}.json").exists()][:20]:
        record = superni_task_record(entry.name, [("input", ["output"])], category="Textual Entailment")
        (tasks / f"{entry.name}.json").write_text(json.dumps({**record, "Source": ["another source"]}))
    (root / "p3" / "super_glue_cb_new_template.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    (root / "flan" / "cot_data" / "math_train.tsv").write_text("question\tanswer\trationale\n")
    monkeypatch.setenv("OPTIML_DATA_DIR", str(root))
    for benchmark, build in sorted(CATALOG_BUILDERS.items()):
        assert build() == load_packaged_catalog(f"{benchmark}_catalog.tsv"), benchmark
