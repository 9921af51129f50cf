"""PromptSource (bigscience-workshop/promptsource) templates over dataset rows, and pre-rendered P3.

**Templates.** `templates/<dataset>[/<subset>]/templates.yaml` holds `dataset`, optional `subset`
and `templates: {id: !Template {...}}`; each template has `name`, `jinja` (prompt and target
separated by `|||`), optional `answer_choices` (jinja rendering to choices separated by `|||`) and
`metadata: !TemplateMetadata {original_task, choices_in_prompt, metrics, languages}`. The YAML tags
are read as plain mappings (no Python object is constructed from the file).

Rendering follows PromptSource's `Template.apply`: every `}}` becomes `| string | truncate(2048)
}}` (its default truncation of substituted values), `|||` inside field values is protected while
splitting, `answer_choices` is rendered first and exposed to the template as a list, and both parts
are stripped. The environment is jinja2's `SandboxedEnvironment` (a template cannot reach Python
internals) with PromptSource's helpers: the filters `choice` (here drawn from a generator seeded by
(seed, task, row, template), so a row renders identically on every run and host), `most_frequent`
and `highlight`, and the globals `zip` and `enumerate`. Undefined names raise (jinja2's
`StrictUndefined`), so a template that reads a field the rows lack fails loudly instead of
rendering an empty string.

OPT-IML uses only templates whose `metadata.original_task` is true (App. A.1). Training renders
each row once with one of them, drawn per row (§4.1: the pool of prompts is resampled to the
task's size); when the drawn template does not apply to the row (renders an empty prompt or
target, e.g. a COPA template written only for "effect" questions), the other templates are tried
in a seeded order. Evaluation renders every row with one named template; for dev and test tasks a
template that does not apply to every row is not used (App. A.1), except for the `turk` dataset,
whose rows it does not apply to are skipped and counted.

Errors: a template that raises on a row (e.g. reads an absent field) names dataset, template and
row; in training the row is counted under that template and skipped, in evaluation it raises.

**Rows** are JSONL with the dataset's Hugging Face field names (one file per split), or the
original SuperGLUE/FewGLUE files mapped to HF's `super_glue` features
(`optiml_jax.data.formats.superglue`).

**P3** (`read_p3_task`): pre-rendered examples `{"prompt", "completion"}`, one JSONL file per
`<dataset>_<subset>_<template>` (names with every run of characters other than letters, digits
and "_" written "_"), as T0's training mixture ships them. A completion may end with GPT-2's
`<|endoftext|>` marker, which is removed. Only files of original-task templates are used; the
others are counted. P3 examples carry no answer choices, so they train only.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import os
import random
import re

import numpy as np
import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import parse_shared_file, read_jsonl, require
from optiml_jax.data.formats.superglue import NO_LABEL, read_superglue_rows
from optiml_jax.data.prompting import INSTANCE, stable_task_hash

TEXT_VAR_LENGTH = 2048  # PromptSource's truncation of substituted values (characters).
SEPARATOR = "|||"
_PIPE_PROTECTOR = "\x00pipe\x00"
ENDOFTEXT = "<|endoftext|>"
ALL_ROWS_DATASETS = frozenset({"turk"})  # App. A.1: its templates apply to some rows only.
NOT_APPLICABLE = "template does not apply to every evaluation row (App. A.1)"
NO_TEMPLATE_APPLIES = "no original-task template applies to the row"
NOT_ORIGINAL_TASK = "P3 examples of templates not meant for the original task (App. A.1)"
UNLABELLED = "rows without a label"


@dataclasses.dataclass(frozen=True)
class Template:
    id: str
    name: str
    jinja: str
    answer_choices: str | None
    original_task: bool

    @property
    def key(self) -> str:
        """The name as P3 file names and our registry names spell it."""
        return sanitize(self.name)


@dataclasses.dataclass(frozen=True)
class TemplateFile:
    path: str
    dataset: str
    subset: str | None
    templates: tuple[Template, ...]

    @property
    def task(self) -> str:
        return self.dataset if self.subset is None else f"{self.dataset}/{self.subset}"

    def original(self) -> tuple[Template, ...]:
        return tuple(t for t in self.templates if t.original_task)

    def get(self, key: str) -> Template:
        for template in self.templates:
            if template.key == key:
                return template
        raise KeyError(f"{self.path}: no template named {key!r}; templates: {[t.key for t in self.templates]}")


def sanitize(name: str) -> str:
    """Every run of characters other than letters, digits and "_" becomes "_" (P3's file names)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", name)


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """Safe YAML loading that reads PromptSource's tags as plain mappings."""


for _tag in ("!Template", "!TemplateMetadata"):
    _Loader.add_constructor(_tag, lambda loader, node: loader.construct_mapping(node, deep=True))


def load_templates(path: str, task: str = "") -> TemplateFile:
    """Parses one `templates.yaml`; raises naming the file and the template on bad structure (and
    `task`, e.g. `promptsource:super_glue.copa`, when a task's reader asks)."""
    return parse_shared_file(path, task, _parsed_templates)


@functools.lru_cache(maxsize=None)
def _parsed_templates(path: str, source: str) -> TemplateFile:
    try:
        document = yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as error:
        raise DataFormatError(path, "(YAML syntax)", str(error).replace("\n", " ")) from None
    dataset = require(path, document, "dataset", str, "")
    subset = document.get("subset")
    templates = []
    for template_id, record in require(path, document, "templates", dict, "").items():
        where = f"templates[{template_id}]"
        metadata = record.get("metadata") or {}
        templates.append(Template(
            id=str(template_id), name=require(path, record, "name", str, where),
            jinja=require(path, record, "jinja", str, where), answer_choices=record.get("answer_choices"),
            original_task=bool(metadata.get("original_task"))))
    keys = collections.Counter(t.key for t in templates)
    clashes = [key for key, count in keys.items() if count > 1]
    if clashes:
        raise DataFormatError(path, "templates", f"template names {clashes} coincide once sanitized; rename one")
    return TemplateFile(path, dataset, None if subset is None else str(subset), tuple(templates))


# -- rendering ------------------------------------------------------------------------------------

_CHOICE_RNG = random.Random()


def _most_frequent(items):
    if not items:
        return None
    counts = collections.Counter(items).most_common()
    return [item for item, count in counts if count == counts[0][1]]


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False)
    environment.filters.update(choice=lambda choices: _CHOICE_RNG.choice(choices), most_frequent=_most_frequent,
                               highlight=lambda text: text)
    environment.globals.update(zip=zip, enumerate=enumerate)
    return environment


_ENVIRONMENT = _environment()


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, truncate: bool):
    if truncate:
        source = source.replace("}}", f" | string | truncate({TEXT_VAR_LENGTH}) }}}}")
    return _ENVIRONMENT.from_string(source)


def _protect(row: dict) -> dict:
    return {k: v.replace(SEPARATOR, _PIPE_PROTECTOR) if isinstance(v, str) else v for k, v in row.items()}


def _parts(text: str) -> list[str]:
    return [part.replace(_PIPE_PROTECTOR, SEPARATOR).strip() for part in text.split(SEPARATOR)]


class TemplateRenderError(ValueError):
    pass


def render(template: Template, row: dict, seed_key: str) -> tuple[str, str, tuple[str, ...] | None]:
    """(prompt, target, answer choices or None) of one row; ("", "", …) when it does not apply.

    Raises `TemplateRenderError` when jinja fails (an absent field, a type error in the template).
    """
    _CHOICE_RNG.seed(seed_key)
    protected = _protect(row)
    if "answer_choices" in protected:
        raise TemplateRenderError("the row has a field named 'answer_choices', which templates reserve")
    try:
        choices = None
        if template.answer_choices is not None:
            choices = tuple(_parts(_compiled(template.answer_choices, False).render(**protected)))
        text = _compiled(template.jinja, True).render(**protected, answer_choices=None if choices is None else list(choices))
    except (TemplateError, TypeError, KeyError, IndexError, ValueError, AttributeError, ZeroDivisionError) as error:
        raise TemplateRenderError(f"{type(error).__name__}: {error}") from None
    parts = _parts(text)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return "", "", choices
    return parts[0], parts[1], choices


# -- rows -----------------------------------------------------------------------------------------

def read_rows(path: str, rows: str, subset: str | None, task: str) -> list[tuple[str, dict]]:
    """(row id, row) pairs: `rows="jsonl"` for HF-field JSONL, `"superglue"` for SuperGLUE files."""
    if rows == "superglue":
        records = read_superglue_rows(path, subset or "", task)
        return [(_row_id(record, index), record) for index, record in enumerate(records)]
    if rows == "jsonl":
        return [(_row_id(record, number - 1), record) for number, record in read_jsonl(path, task)]
    raise ValueError(f"{task}: unknown rows format {rows!r} (jsonl or superglue).")


def _row_id(record: dict, index: int) -> str:
    idx = record.get("idx", record.get("id"))
    if isinstance(idx, dict):
        idx = "-".join(str(v) for v in idx.values())
    return str(index if idx is None else idx)


# -- the readers ----------------------------------------------------------------------------------

def read_promptsource_task(path: str, name: str, *, templates: str, template: str | None = None,
                           rows: str = "jsonl", subset: str | None = None, evaluation: bool = False,
                           all_templates: bool = False, seed: int = 0) -> TaskData:
    """One PromptSource task: the rows at `path` rendered with the templates file `templates`.

    `template=None` renders each row with one drawn original-task template (training); a template
    key renders every row with that template (evaluation subtasks). `evaluation=True` applies the
    dev/test rules of the module docstring. `all_templates=True` uses every template of the file,
    for evaluation tasks whose file marks none as the original task (docs/benchmark.md).
    """
    task = f"promptsource:{name}"
    source = load_templates(templates, task)
    usable = source.templates if all_templates else source.original()
    if template is not None:
        chosen = source.get(template)
        if chosen not in usable:
            raise ValueError(f"{task}: template {template!r} of {templates} is not meant for the original task.")
        usable = (chosen,)
    if not usable:
        raise DataFormatError(templates, "templates", "no template is marked original_task: true", task)
    data = TaskData(name, "", (), [], {}, INSTANCE)
    every_row = read_rows(path, rows, subset, task)
    labelled = [(row_id, row) for row_id, row in every_row if row.get("label") != NO_LABEL]
    if len(labelled) < len(every_row):
        data.count_skip(UNLABELLED, len(every_row) - len(labelled))
    for index, (row_id, row) in enumerate(labelled):
        order = list(usable)
        if template is None:
            rng = np.random.default_rng([seed, stable_task_hash(name), index])
            order = [order[i] for i in rng.permutation(len(order))]
        example, failed = None, []
        for candidate in order:
            try:
                prompt, target, choices = render(candidate, row, f"{seed}:{name}:{row_id}:{candidate.id}")
            except TemplateRenderError as error:
                if evaluation:
                    raise DataFormatError(path, f"row {index + 1} (id {row_id})",
                                          f"template {candidate.name!r} of {templates} failed: {error}", task) from None
                failed.append(candidate.key)
                continue
            if prompt:
                example = Example(row_id, prompt, (target,), choices, row_id)
                break
        if example is not None:
            data.examples.append(example)
        elif evaluation and source.dataset not in ALL_ROWS_DATASETS:
            data.examples.clear()
            data.count_skip(NOT_APPLICABLE, len(labelled))
            return data
        else:  # The row is skipped once, under the templates that failed on it if any did.
            data.count_skip(f"template {', '.join(failed)} failed on a row" if failed else NO_TEMPLATE_APPLIES)
    return data


def p3_template_key(file_stem: str, task_prefix: str) -> str:
    return file_stem[len(task_prefix):]


def read_p3_task(path: str, name: str, *, files: tuple[str, ...], templates: str,
                 template: str | None = None) -> TaskData:
    """A PromptSource task from pre-rendered P3 files (`files`, one per template; `path` is the
    first). Each file's template is looked up in `templates` by its sanitized name."""
    task = f"promptsource:{name}"
    source = load_templates(templates, task)
    prefix = sanitize(source.task.replace("/", "_")) + "_"
    data = TaskData(name, "", (), [], {}, INSTANCE)
    for file in files:
        stem = os.path.splitext(os.path.basename(file))[0]
        if not stem.startswith(prefix):
            raise DataFormatError(file, "(file name)", f"does not start with {prefix!r}, the P3 prefix of {source.task}", task)
        key = p3_template_key(stem, prefix)
        try:
            matched = source.get(key)
        except KeyError:
            raise DataFormatError(file, "(file name)", f"names template {key!r}, which {templates} does not have", task) from None
        if template is not None and matched.key != template:
            continue
        rows = list(read_jsonl(file, task))
        if not matched.original_task:
            data.count_skip(NOT_ORIGINAL_TASK, len(rows))
            continue
        for number, record in rows:
            where = f"row {number}"
            prompt = require(file, record, "prompt", str, where, task).strip()
            completion = require(file, record, "completion", str, where, task)
            completion = completion[: -len(ENDOFTEXT)] if completion.endswith(ENDOFTEXT) else completion
            completion = completion.strip()
            if not prompt or not completion:
                data.count_skip("empty prompt or completion")
                continue
            # Rows are not identified in P3; all templates of a row share its answer, so the
            # completion stands for the row when held-out instances are cut (docs/benchmark.md).
            row = hashlib.blake2b(completion.encode("utf-8"), digest_size=8).hexdigest()
            data.examples.append(Example(f"{matched.key}:{number}", prompt, (completion,), None, row))
    return data
