"""The SuperNI reader on every real task file, and each kind of bad input."""

import glob
import json
import os

import pytest

from data_fixtures import real_data_dir, superni_task_record, write_superni_task
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats.superni import EMPTY_OUTPUT_LIST, read_superni_task


def test_every_local_task_file_loads():
    files = sorted(glob.glob(os.path.join(real_data_dir(), "superni", "tasks", "*.json")))
    assert len(files) == 262
    with_several_references = 0
    for path in files:
        name = os.path.basename(path)[: -len(".json")]
        task = read_superni_task(path, name)
        assert task.instruction and task.demonstrations and task.examples, path
        assert not task.skipped, (path, task.skipped)
        assert all(e.id.startswith(name.split("_")[0] + "-") and e.targets for e in task.examples)
        with_several_references += sum(len(e.targets) > 1 for e in task.examples)
    assert with_several_references > 1000  # Multiple references are kept, not collapsed.


def test_example_store_reads_back_what_the_reader_returned(tmp_path):
    path = sorted(glob.glob(os.path.join(real_data_dir(), "superni", "tasks", "*.json")))[0]
    name = os.path.basename(path)[: -len(".json")]
    expected = read_superni_task(path, name)
    for store in (ExampleStore(str(tmp_path)), ExampleStore(str(tmp_path))):  # Built, then cached.
        task = store.open("superni", name, path)
        assert len(task) == len(expected.examples)
        assert list(task) == expected.examples
        assert task[7] == expected.examples[7]
        assert task.instruction == expected.instruction and task.demonstrations == expected.demonstrations
        assert list(task.head(5)) == expected.examples[:5]


def _write(tmp_path, content: bytes) -> str:
    path = tmp_path / "task9001_bad.json"
    path.write_bytes(content)
    return str(path)


def test_malformed_json_names_file_and_position(tmp_path):
    path = _write(tmp_path, b'{"Definition": ["x"],\n "Instances": [}')
    with pytest.raises(DataFormatError, match=r"task9001_bad\.json: \(JSON syntax\): malformed JSON at line 2 column"):
        read_superni_task(path, "task9001_bad")


def test_non_utf8_bytes_name_file_and_byte_offset(tmp_path):
    record = json.dumps(superni_task_record("task9001_bad", [("caf\u00e9", ["x"])])).encode("utf-8")
    broken = record.replace(b"caf", b"caf\xff", 1)
    path, offset = _write(tmp_path, broken), broken.index(b"\xff")
    with pytest.raises(DataFormatError, match=rf"task9001_bad\.json: \(file encoding\): byte {offset} is not valid UTF-8"):
        read_superni_task(path, "task9001_bad")


@pytest.mark.parametrize(
    "mutate, field, problem",
    [
        (lambda t: t.pop("Definition"), "Definition", "missing"),
        (lambda t: t.pop("Instances"), "Instances", "missing"),
        (lambda t: t["Instances"][1].pop("output"), r"Instances\[1\]\.output", "missing"),
        (lambda t: t["Instances"][0].pop("input"), r"Instances\[0\]\.input", "missing"),
        (lambda t: t["Instances"][0].update(output="yes"), r"Instances\[0\]\.output", "expected list, found str"),
        (lambda t: t["Instances"][1].update(output=["ok", 3]), r"Instances\[1\]\.output\[1\]", "expected str, found int"),
        (lambda t: t["Positive Examples"][0].pop("output"), r"Positive Examples\[0\]\.output", "missing"),
        (lambda t: t.update(Definition=["a", "b"]), "Definition", "expected exactly one string"),
    ],
)
def test_missing_or_mistyped_fields_name_file_and_field(tmp_path, mutate, field, problem):
    record = superni_task_record("task9001_bad", [("q0", ["a0"]), ("q1", ["a1"])])
    mutate(record)
    path = _write(tmp_path, json.dumps(record).encode())
    with pytest.raises(DataFormatError, match=rf"task9001_bad\.json: {field}: {problem}"):
        read_superni_task(path, "task9001_bad")


def test_empty_output_lists_are_skipped_and_counted(tmp_path):
    path = write_superni_task(tmp_path, "task9002_empty", [("q0", ["a0"]), ("q1", []), ("q2", []), ("q3", ["a3"])])
    task = read_superni_task(path, "task9002_empty")
    assert [e.input for e in task.examples] == ["q0", "q3"]
    assert task.skipped == {EMPTY_OUTPUT_LIST: 2}
    # The count survives the on-disk cache.
    assert ExampleStore(str(tmp_path / "cache")).open("superni", "task9002_empty", path).skipped == {EMPTY_OUTPUT_LIST: 2}
