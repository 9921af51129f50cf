"""Reader for FLAN 2021 tasks (google-research/FLAN): its templates over TFDS or SuperGLUE rows.

**Templates.** FLAN's `templates.py` defines `PATTERNS`: dataset key → list of (input template,
target template) pairs. `read_patterns` reads that assignment as data (`ast.literal_eval` of the
parsed module; nothing in the file runs). A template is text with `{field}` slots (FLAN splits it
on the regex `({\\w*})`); the fields come from the task's preprocessor
(`optiml_jax.data.formats.flan_tasks`), and `{options_}` is the options as
"OPTIONS:\\n- a\\n- b". A slot naming a field the preprocessor does not produce raises, naming the
task, the template and the field. FLAN's model-specific wrapper around the rendered input
("0 {inputs} X 1 FLAN") is not applied: OPT-IML lays prompts out itself (§2.4).

**Inverted templates.** OPT-IML uses only the templates that represent the original task and
drops FLAN's inverted ones (App. A.1). FLAN lists each dataset's original-direction templates
first, and an inverted template asks for a different output, so the rule
(`original_templates`) is: a template is inverted when its target template differs from the
target template of the dataset's first pattern (e.g. rte #9 "Generate a context and a
hypothesis." → "Context: {premise}…"; cnn_dailymail #7–9, whose target is the article; the
translation templates that translate the other way). This keeps 513 of the 610 templates of
FLAN's 61 keys; templates keep their original index as id (`template_<i>`).

**Rows.** `rows="tfds"` reads FLAN's TFDS dataset and split string for the task
(`optiml_jax.data.formats.tfds_rows`: prepared datasets only, nothing is downloaded while
reading); `rows="superglue"` reads an original SuperGLUE or FewGLUE JSONL file for FLAN's
SuperGLUE tasks (`optiml_jax.data.formats.superglue`, whose rows carry the same feature names
and label ids as TFDS's `super_glue`).

**Examples.** Training (`template=None`) renders each row once, with one original template drawn
from a generator seeded by (seed, task name, row index); evaluation (`template=i`) renders every
row with template i. An example's id is `<row index>:t<template index>`, its row
`<TFDS name>/<split string>#<row index>` (or `<subset>/<file name>#<row index>`), its targets
the rendered target followed by the dataset's other gold answers, and its options (classification
tasks) the option list the rendered target is one of. Rows that cannot be rendered (FLAN's row
filters, unlabelled rows, rows without an answer, an empty target, a target outside the options)
are skipped and counted by reason.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import os
import re
from typing import Mapping

from optiml_jax.data.examples import DataFormatError, Example, TaskData, UnknownNameError
from optiml_jax.data.formats.files import parse_shared_file
from optiml_jax.data.formats.flan_tasks import TASKS, FlanTask, RowSkipped, options_text
from optiml_jax.data.formats.superglue import read_superglue_rows
from optiml_jax.data.formats.tfds_rows import tfds_rows
from optiml_jax.data.prompting import INSTANCE, example_rng

ROW_SOURCES = ("tfds", "superglue")
OPTIONS_SLOT = "options_"
EMPTY_TARGET = "empty target"
TARGET_NOT_AN_OPTION = "target is not among the options"
_SLOT = re.compile(r"({\w*})")

Patterns = dict[str, list[tuple[str, str]]]


# -- templates ------------------------------------------------------------------------------------

def read_patterns(path: str, task: str = "") -> Patterns:
    """FLAN's `PATTERNS` from a templates module, read as data (see the module docstring); errors
    name `task` (e.g. `flan:rte`) when a task's reader asks."""
    return {key: list(pairs) for key, pairs in parse_shared_file(path, task, _parsed_patterns)}


@functools.lru_cache(maxsize=4)
def _parsed_patterns(path: str, source: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    try:
        module = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise DataFormatError(path, "(Python syntax)", f"line {error.lineno}: {error.msg}") from None
    assignments = [node.value for node in module.body if isinstance(node, ast.Assign)
                   and any(isinstance(target, ast.Name) and target.id == "PATTERNS" for target in node.targets)]
    if not assignments:
        raise DataFormatError(path, "PATTERNS", "no top-level `PATTERNS = {...}` assignment, so this is not FLAN's "
                                                "templates.py; point OPTIML_FLAN_TEMPLATES at FLAN's flan/templates.py")
    try:
        patterns = ast.literal_eval(assignments[-1])
    except (ValueError, TypeError):
        raise DataFormatError(path, "PATTERNS", "is not a literal (it computes values; only plain strings, lists, "
                                                "tuples and dicts are read)") from None
    if not isinstance(patterns, dict):
        raise DataFormatError(path, "PATTERNS", f"expected a dict, found {type(patterns).__name__}")
    parsed = []
    for key, pairs in patterns.items():
        if not isinstance(key, str) or not isinstance(pairs, list) or not pairs:
            raise DataFormatError(path, f"PATTERNS[{key!r}]", "expected a string key and a non-empty list of "
                                                             "(input, target) pairs")
        for index, pair in enumerate(pairs):
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
                raise DataFormatError(path, f"PATTERNS[{key!r}][{index}]", f"expected an (input, target) pair of "
                                                                          f"strings, found {pair!r:.80}")
        parsed.append((key, tuple(pairs)))
    return tuple(parsed)


def original_templates(patterns: Patterns, key: str) -> list[int]:
    """Indices of the templates of `patterns[key]` that are not inverted: those whose target
    template is the target template of the key's first pattern (module docstring)."""
    if key not in patterns:
        close = difflib.get_close_matches(key, list(patterns), n=3)
        raise UnknownNameError(f"FLAN PATTERNS has no key {key!r}; close matches: {close}")
    first_target = patterns[key][0][1]
    return [index for index, (_, target) in enumerate(patterns[key]) if target == first_target]


@functools.lru_cache(maxsize=4096)
def _template_parts(template: str) -> tuple[str, ...]:
    return tuple(part for part in _SLOT.split(template) if part)


def render_template(template: str, fields: Mapping[str, str | list[str]], *, path: str, key: str, index: int,
                    task: str) -> str:
    """`template` with its `{field}` slots filled as FLAN's formatter fills them."""
    rendered = []
    for part in _template_parts(template):
        if not _SLOT.fullmatch(part):
            rendered.append(part)
            continue
        name = part[1:-1]
        value = options_text(fields["options"]) if name == OPTIONS_SLOT and "options" in fields else fields.get(name)
        if not isinstance(value, str):
            problem = ("is a list; only {options_} renders one" if value is not None else
                       f"names a field the preprocessor does not produce (fields: {sorted(fields)})")
            raise DataFormatError(path, f"PATTERNS[{key!r}][{index}]", f"slot {part} {problem}", task)
        rendered.append(value)
    return "".join(rendered)


# -- rows -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FlanRows:
    """A FLAN task's rows, shaped as TFDS examples, each with its stable row id."""

    source: str  # The file or TFDS dataset they come from (errors name it).
    rows: list[tuple[str, Mapping]]


def flan_task(name: str) -> FlanTask:
    """The table entry of a FLAN task (FLAN's abbreviated name, e.g. `anli_r1`)."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=3)
        raise UnknownNameError(f"{name!r} is not one of OPT-IML's 70 FLAN tasks; close matches: {close}")
    return TASKS[name]


def load_flan_rows(path: str | None, *, task: str, split: str, rows: str = "tfds",
                   tfds_data_dir: str | None = None) -> FlanRows:
    """The rows of FLAN task `task` for `split` (train, validation or test): FLAN's TFDS dataset
    and split string (`rows="tfds"`), or the SuperGLUE/FewGLUE file at `path` (`rows="superglue"`)."""
    spec = flan_task(task)
    split_string = spec.split(split)  # Also validates the split name when the file is the split.
    if rows == "tfds":
        return FlanRows(spec.tfds_name, tfds_rows(spec.tfds_name, split_string, tfds_data_dir, f"flan:{task}"))
    if rows == "superglue":
        found = _superglue_rows(spec, path, f"flan:{task}")
        return FlanRows(str(path), found)
    raise ValueError(f"flan:{task}: unknown rows source {rows!r}; sources are {ROW_SOURCES}.")


def _superglue_rows(spec: FlanTask, path: str | None, task: str) -> list[tuple[str, Mapping]]:
    if spec.superglue_subset is None:
        raise ValueError(f"{task}: rows='superglue' reads FLAN's SuperGLUE tasks only "
                         f"({sorted(name for name, t in TASKS.items() if t.superglue_subset)}); use rows='tfds'.")
    if path is None:
        raise ValueError(f"{task}: rows='superglue' needs the path of a SuperGLUE/FewGLUE JSONL file.")
    adapt = spec.from_superglue or (lambda row: row)
    stem = f"{spec.superglue_subset}/{os.path.basename(path)}"
    found = read_superglue_rows(path, spec.superglue_subset, task)
    return [(f"{stem}#{index}", adapt(row)) for index, row in enumerate(found)]


# -- rendering ------------------------------------------------------------------------------------

def _task_label(name: str, task: str) -> str:
    return f"flan:{name}" if name == task else f"flan:{name} ({task})"


def _templates(spec: FlanTask, patterns: str, template: int | None,
               label: str) -> tuple[list[tuple[str, str]], list[int]]:
    """The task's template pairs and its original templates' indices; checks `template`."""
    all_patterns = read_patterns(patterns, label)
    if spec.patterns_key not in all_patterns:
        raise DataFormatError(patterns, f"PATTERNS[{spec.patterns_key!r}]", "missing", label)
    pairs = all_patterns[spec.patterns_key]
    kept = original_templates(all_patterns, spec.patterns_key)
    if template is not None and template not in kept:
        what = "an inverted template" if 0 <= template < len(pairs) else "out of range"
        raise ValueError(f"{label}: template {template} of {spec.patterns_key!r} is {what}; the original templates "
                         f"are {kept}.")
    return pairs, kept


def render_flan_rows(rows: FlanRows, name: str, *, task: str, patterns: str, template: int | None = None,
                     seed: int = 0) -> TaskData:
    """Renders loaded rows into examples (see `read_flan_task` and the module docstring)."""
    spec = flan_task(task)
    label = _task_label(name, task)
    pairs, kept = _templates(spec, patterns, template, label)
    data = TaskData(name, "", (), [], {}, INSTANCE)
    for index, (row_id, row) in enumerate(rows.rows):
        try:
            fields = spec.fields(row)
        except RowSkipped as skip:
            data.count_skip(skip.reason)
            continue
        except (KeyError, TypeError, UnicodeDecodeError) as error:
            problem = f"the {task} preprocessor cannot read it: {type(error).__name__}: {error}"
            raise DataFormatError(rows.source, f"row {index} ({row_id})", problem, label) from None
        chosen = template if template is not None else kept[int(example_rng(seed, name, index).integers(len(kept)))]
        where = {"path": patterns, "key": spec.patterns_key, "index": chosen, "task": label}
        prompt = render_template(pairs[chosen][0], fields, **where)
        target = render_template(pairs[chosen][1], fields, **where)
        options = tuple(fields["options"]) if "options" in fields else None
        if not target.strip():
            data.count_skip(EMPTY_TARGET)
            continue
        if options is not None and target not in options:
            data.count_skip(TARGET_NOT_AN_OPTION)
            continue
        others = [answer for answer in dict.fromkeys(fields.get("answers", ())) if answer != target]
        data.examples.append(Example(f"{index}:t{chosen}", prompt, (target, *others), options, row_id))
    return data


def read_flan_task(path: str | None, name: str, *, task: str, split: str, patterns: str, template: int | None = None,
                   rows: str = "tfds", seed: int = 0, tfds_data_dir: str | None = None) -> TaskData:
    """One FLAN task's rows rendered with its original templates (see the module docstring).

    `name`: the registered task name (seeds the template draw); `task`: FLAN's task name (the
    table key); `split`: train, validation or test; `patterns`: the templates.py file;
    `template`: None to draw a template per row (training), or an original template's index;
    `path`: the SuperGLUE/FewGLUE file for `rows="superglue"`, unused for `rows="tfds"`.
    """
    _templates(flan_task(task), patterns, template, _task_label(name, task))  # Fail before loading rows.
    loaded = load_flan_rows(path, task=task, split=split, rows=rows, tfds_data_dir=tfds_data_dir)
    return render_flan_rows(loaded, name, task=task, patterns=patterns, template=template, seed=seed)
