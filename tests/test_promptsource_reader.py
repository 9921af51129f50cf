"""PromptSource: original templates over real SuperGLUE rows (FewGLUE), the P3 reader on the local
files, the FewGLUE → HF `super_glue` table, the sandbox, and bad input naming task, file and row."""

import json
import os

import pytest

from data_fixtures import real_data_dir
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats import promptsource as ps
from optiml_jax.data.formats.superglue import NO_LABEL, SUBSETS, read_superglue_rows
from optiml_jax.tasks import promptsource as catalog


def _templates(folder):
    return os.path.join(real_data_dir(), "promptsource", "templates", folder, "templates.yaml")


def _fewglue(subset, file="train.jsonl"):
    return os.path.join(real_data_dir(), "fewglue", "FewGLUE", SUBSETS[subset].file_folder, file)


@pytest.mark.parametrize("subset", sorted(SUBSETS))
def test_every_original_template_renders_over_fewglue_rows_with_its_answer_choices(subset):
    source = ps.load_templates(_templates(f"super_glue/{subset}"))
    rows = read_superglue_rows(_fewglue(subset), subset)
    assert source.original() and rows
    for template in source.original():
        rendered = [ps.render(template, row, f"test:{i}") for i, row in enumerate(rows)]
        applies = [(prompt, target, choices) for prompt, target, choices in rendered if prompt]
        assert applies, template.name
        for prompt, target, choices in applies:
            assert choices is not None and len(choices) >= 2 and target in choices, (template.name, target, choices)
        # A template applies to every row unless it is written for part of them (COPA's
        # cause-only or effect-only templates), which evaluation then leaves out (App. A.1).
        if len(applies) < len(rows):
            assert subset == "copa" and "{% if question ==" in template.jinja.replace("{%if", "{% if")


def test_copa_evaluation_renders_each_template_or_reports_it_not_applicable(tmp_path):
    templates = _templates("super_glue/copa")
    full = ps.read_promptsource_task(_fewglue("copa"), "super_glue/copa", templates=templates, template="exercise",
                                     rows="superglue", subset="copa", evaluation=True)
    assert len(full.examples) == 32 and not full.skipped and full.layout == "instance"
    example = full.examples[0]
    assert example.input.startswith("Exercise: choose the most plausible alternative.")
    assert example.options == ("The chandelier dropped from the ceiling.", "The chandelier's lights flickered on and off.")
    assert example.targets == ("The chandelier dropped from the ceiling.",)  # label 0 → choice1
    partial = ps.read_promptsource_task(_fewglue("copa"), "super_glue/copa", templates=templates,
                                        template="_why_C1_or_C2", rows="superglue", subset="copa", evaluation=True)
    assert not partial.examples and partial.skipped == {ps.NOT_APPLICABLE: 32}


def test_training_draws_one_applicable_template_per_row_with_a_fixed_seed():
    args = dict(templates=_templates("super_glue/copa"), rows="superglue", subset="copa")
    first = ps.read_promptsource_task(_fewglue("copa"), "super_glue/copa", **args)
    again = ps.read_promptsource_task(_fewglue("copa"), "super_glue/copa", **args)
    other = ps.read_promptsource_task(_fewglue("copa"), "super_glue/copa", seed=1, **args)
    assert len(first.examples) == 32 and not first.skipped
    assert first.examples == again.examples and first.examples != other.examples
    assert len({e.input.split("\n")[0] for e in first.examples}) > 3  # Several templates in use.


def test_unlabelled_rows_are_counted_not_trained():
    task = ps.read_promptsource_task(_fewglue("copa", "unlabeled.jsonl"), "super_glue/copa",
                                     templates=_templates("super_glue/copa"), rows="superglue", subset="copa")
    assert not task.examples and task.skipped == {ps.UNLABELLED: 400}


def test_fewglue_rows_follow_the_hf_super_glue_table():
    assert {r["label"] for r in read_superglue_rows(_fewglue("cb"), "cb")} <= {0, 1, 2}
    boolq = read_superglue_rows(_fewglue("boolq"), "boolq")[0]
    assert set(boolq) == {"question", "passage", "idx", "label"} and boolq["label"] in (0, 1)
    multirc = read_superglue_rows(_fewglue("multirc"), "multirc")
    with open(_fewglue("multirc"), encoding="utf-8") as f:
        answers = sum(len(q["answers"]) for line in f for q in json.loads(line)["passage"]["questions"])
    assert len(multirc) == answers and set(multirc[0]["idx"]) == {"paragraph", "question", "answer"}
    record = read_superglue_rows(_fewglue("record"), "record")[0]
    assert record["answers"] == ["Olimpija Ljubljana"] and "Olimpija Ljubljana" in record["entities"]
    assert record["entities"] == sorted(set(record["entities"]))  # Unique, sorted, end inclusive.
    for row in read_superglue_rows(_fewglue("wsc.fixed"), "wsc.fixed"):
        assert row["span1_text"] in row["text"] and row["span2_text"] in row["text"]
    assert all(r["label"] == NO_LABEL for r in read_superglue_rows(_fewglue("wic", "unlabeled.jsonl"), "wic"))


def test_p3_reader_reads_every_local_task_and_keeps_only_original_templates():
    p3_dir = os.path.join(real_data_dir(), "p3")
    index, unrendered = catalog._p3_index(p3_dir)
    assert len(index) == 36 and all(name.startswith("trec_") for name in unrendered) and len(unrendered) == 18
    total = skipped = 0
    for folder, files in index.items():
        task = ps.read_p3_task(files[0], folder, files=files, templates=_templates(folder))
        total += len(task.examples)
        skipped += task.skipped.get(ps.NOT_ORIGINAL_TASK, 0)
        source = ps.load_templates(_templates(folder))
        assert {e.id.split(":")[0] for e in task.examples} <= {t.key for t in source.original()}
        assert all(e.targets[0] and not e.targets[0].endswith(ps.ENDOFTEXT) for e in task.examples)
    lines = sum(1 for files in index.values() for f in files for line in open(f, encoding="utf-8") if line.strip())
    assert total + skipped + 0 <= lines and total > 30000 and skipped > 0


def test_templates_are_read_as_data_and_rendered_in_a_sandbox(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("dataset: fixture\ntemplates:\n  a: !Template\n    name: escape\n    jinja: \"{{ ''.__class__.__mro__ }} ||| x\"\n"
                    "    metadata: !TemplateMetadata\n      original_task: true\n  b: !Template\n    name: pick\n"
                    "    jinja: '{{ [text, text ~ \"!\"] | choice }} ||| y'\n    metadata: !TemplateMetadata\n"
                    "      original_task: true\n")
    source = ps.load_templates(str(path))
    escape, pick = source.templates
    with pytest.raises(ps.TemplateRenderError, match="SecurityError|unsafe"):
        ps.render(escape, {"text": "hi"}, "k")
    assert ps.render(pick, {"text": "hi"}, "k") == ps.render(pick, {"text": "hi"}, "k")  # Seeded `choice`.
    assert {ps.render(pick, {"text": "hi"}, f"k{i}")[0] for i in range(20)} == {"hi", "hi!"}


def _rows(tmp_path, lines):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _broken_templates(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("dataset: fixture\ntemplates:\n  a: !Template\n    name: reads_missing\n"
                    "    jinja: '{{ premise }} {{ hypothesis }} ||| {{ label }}'\n    metadata: !TemplateMetadata\n"
                    "      original_task: true\n")
    return str(path)


def test_bad_input_names_benchmark_task_file_and_row_or_template(tmp_path):
    templates = _broken_templates(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"promptsource:fixture_task: data file .*missing.jsonl does not exist"):
        ps.read_promptsource_task(str(tmp_path / "missing.jsonl"), "fixture_task", templates=templates)
    rows = _rows(tmp_path, ['{"premise": "a", "hypothesis": "b", "label": 0}', '{"premise": "a", "hyp'])
    with pytest.raises(DataFormatError, match=r"promptsource:fixture_task: .*train.jsonl: row 2: malformed JSON"):
        ps.read_promptsource_task(rows, "fixture_task", templates=templates)
    rows = _rows(tmp_path, ['{"premise": "a", "hypothesis": "b", "label": 0}', '{"premise": "a", "label": 1}'])
    training = ps.read_promptsource_task(rows, "fixture_task", templates=templates)
    assert len(training.examples) == 1 and training.skipped == {"template reads_missing failed on a row": 1}
    with pytest.raises(DataFormatError, match=r"promptsource:fixture_task: .*train.jsonl: row 2 \(id 1\): template "
                                              r"'reads_missing' of .*templates.yaml failed: UndefinedError: 'hypothesis' is undefined"):
        ps.read_promptsource_task(rows, "fixture_task", templates=templates, template="reads_missing", evaluation=True)


def test_a_bad_templates_file_raises_naming_benchmark_task_and_file(tmp_path):
    rows = _rows(tmp_path, ['{"premise": "a", "hypothesis": "b", "label": 0}'])
    absent = str(tmp_path / "absent.yaml")
    with pytest.raises(FileNotFoundError, match=r"promptsource:fixture_task: data file .*absent.yaml does not exist"):
        ps.read_promptsource_task(rows, "fixture_task", templates=absent)
    broken = tmp_path / "templates.yaml"
    broken.write_text("dataset: fixture\ntemplates:\n  a: !Template\n    jinja: '{{ premise }} ||| x'\n")
    with pytest.raises(DataFormatError) as error:
        ps.read_promptsource_task(rows, "fixture_task", templates=str(broken))
    assert (error.value.task, error.value.path, error.value.field) == (
        "promptsource:fixture_task", str(broken), "templates[a].name")


def _p3_file(tmp_path, lines):
    path = tmp_path / "fixture_reads_missing.jsonl"  # P3's name: <dataset>_<template>.
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_p3_bad_input_names_benchmark_task_file_and_row(tmp_path):
    templates = _broken_templates(tmp_path)
    read = lambda file: ps.read_p3_task(file, "fixture", files=(file,), templates=templates)  # noqa: E731
    missing = str(tmp_path / "fixture_reads_missing.jsonl")
    with pytest.raises(FileNotFoundError, match=r"promptsource:fixture: data file .*fixture_reads_missing.jsonl "
                                                r"does not exist"):
        read(missing)
    good = '{"prompt": "p", "completion": "c<|endoftext|>"}'
    assert read(_p3_file(tmp_path, [good])).examples[0].targets == ("c",)
    for bad, field, problem in (('{"prompt": "p", "compl', "row 2", "malformed JSON at column"),
                                ('{"completion": "c"}', "row 2.prompt", "missing"),
                                ('{"prompt": "p"}', "row 2.completion", "missing"),
                                ('["p", "c"]', "row 2", "expected a JSON object, found list")):
        file = _p3_file(tmp_path, [good, bad])
        with pytest.raises(DataFormatError) as error:
            read(file)
        assert (error.value.task, error.value.path, error.value.field) == ("promptsource:fixture", file, field)
        assert error.value.problem.startswith(problem) and str(error.value).startswith(f"promptsource:fixture: {file}")
