"""Reasoning (FLAN CoT TSVs, GSM8K) and dialogue (ParlAI, SGD, BANKING77) readers on the real local
files and on fixtures in the original formats, with bad input naming benchmark, task, file and row."""

import glob
import os

import pytest

from data_fixtures import real_data_dir
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats.cot import INSTRUCTION_TEXT, cot_target, read_cot_tsv_task, read_gsm8k_task
from optiml_jax.data.formats.dialogue import read_banking77_task, read_parlai_task, read_sgd_task
from optiml_jax.data.prompting import INSTRUCTION, TEXT

COT_SETS = ("aqua", "creak", "ecqa", "gsm8k", "qasc", "sensemaking", "strategyqa")


@pytest.mark.parametrize("name", COT_SETS)
def test_every_local_cot_tsv_reads_one_example_per_line(name):
    path = os.path.join(real_data_dir(), "flan", "cot_data", f"{name}_train.tsv")
    task = read_cot_tsv_task(path, name)
    with open(path, encoding="utf-8") as f:
        lines = [line.split("\t") for line in f.read().split("\n") if line.strip()]
    assert len(task.examples) == len(lines) and task.layout == INSTRUCTION and task.instruction == INSTRUCTION_TEXT
    for example, (question, answer, rationale) in zip(task.examples[:50], lines[:50]):
        assert example.input == question.replace("\\n", "\n").strip()
        assert example.targets == (cot_target(rationale.replace("\\n", "\n"), answer),)
        assert example.targets[0].endswith(f"The answer is {answer.strip()}.") and "\\n" not in example.targets[0]


def test_gsm8k_test_set_becomes_rationale_then_answer():
    task = read_gsm8k_task(os.path.join(real_data_dir(), "heldout", "gsm8k_test.jsonl"), "gsm8k")
    assert len(task.examples) == 1319
    first = task.examples[0]
    assert first.input.startswith("Janet’s ducks lay 16 eggs per day.")
    assert first.targets == ("Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day at the "
                             "farmer’s market. The answer is 18.",)
    assert not [e for e in task.examples if "<<" in e.targets[0] or "####" in e.targets[0]]


def test_cot_bad_input_names_file_and_row(tmp_path):
    path = tmp_path / "broken_train.tsv"
    path.write_text("q1\ta1\tr1\nq2\ta2\n")
    with pytest.raises(DataFormatError, match=r"reasoning:broken: .*broken_train.tsv: row 2: expected 3 tab-separated "
                                              r"columns \(question, answer, rationale\), found 2"):
        read_cot_tsv_task(str(path), "broken")
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text('{"question": "q", "answer": "no final line"}\n')
    with pytest.raises(DataFormatError, match=r"reasoning:gsm8k: .*gsm.jsonl: row 1.answer: no '#### <final answer>' line"):
        read_gsm8k_task(str(gsm), "gsm8k")
    with pytest.raises(FileNotFoundError, match=r"reasoning:creak: data file .*absent.tsv does not exist"):
        read_cot_tsv_task(str(tmp_path / "absent.tsv"), "creak")


@pytest.mark.parametrize("row, field, problem", [
    ('{"question": "q", "answ', "row 2", "malformed JSON at column"),
    ('{"answer": "a #### 1"}', "row 2.question", "missing"),
    ('{"question": "q"}', "row 2.answer", "missing"),
    ('{"question": "q", "answer": 4}', "row 2.answer", "expected str, found int"),
])
def test_gsm8k_bad_rows_name_benchmark_task_file_and_row(tmp_path, row, field, problem):
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text('{"question": "q", "answer": "1 + 1 = 2\\n#### 2"}\n' + row + "\n")
    with pytest.raises(DataFormatError) as error:
        read_gsm8k_task(str(gsm), "gsm8k")
    assert (error.value.task, error.value.path, error.value.field) == ("reasoning:gsm8k", str(gsm), field)
    assert error.value.problem.startswith(problem)
    with pytest.raises(FileNotFoundError, match=r"reasoning:gsm8k: data file .*absent.jsonl does not exist"):
        read_gsm8k_task(str(tmp_path / "absent.jsonl"), "gsm8k")


def test_parlai_episodes_become_whole_dialogues(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("text:your persona: i like tea.\\nhello there\tlabels:hi! how are you?|hey\n"
                    "text:fine, thanks\tlabels:great.\tepisode_done:True\n"
                    "text:second dialogue\tlabels:ok\tepisode_done:True\n")
    task = read_parlai_task(str(path), "convai2")
    assert task.layout == TEXT and [e.input for e in task.examples] == ["", ""]
    assert task.examples[0].targets == ("your persona: i like tea.\nhello there\nhi! how are you?\nfine, thanks\ngreat.",)
    assert task.examples[1].targets == ("second dialogue\nok",)


def test_parlai_bad_input_names_file_and_row(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("labels:no text here\tepisode_done:True\n")
    with pytest.raises(DataFormatError, match=r"dialogue:light: .*train.txt: row 1: no 'text' field"):
        read_parlai_task(str(path), "light")
    path.write_text("text:hello\tlabels:hi\n")
    with pytest.raises(DataFormatError, match=r"row 1: the last episode has no episode_done:True line"):
        read_parlai_task(str(path), "light")
    path.write_text("text:hi\tlabels:ok\tepisode_done:True\ntext:hello\tnot a field\tepisode_done:True\n")
    with pytest.raises(DataFormatError, match=r"dialogue:light: .*train.txt: row 2: field 'not a field' is not key:value"):
        read_parlai_task(str(path), "light")
    with pytest.raises(FileNotFoundError, match=r"dialogue:light: data file .*absent.txt does not exist"):
        read_parlai_task(str(tmp_path / "absent.txt"), "light")


def test_sgd_sample_dialogues_are_their_utterances():
    files = tuple(sorted(glob.glob(os.path.join(real_data_dir(), "dialogue", "sgd", "test", "dialogues_*.json"))))
    task = read_sgd_task(files[0], "sgd", files=files)
    assert len(task.examples) == 128 and task.layout == TEXT
    assert task.examples[0].targets[0].startswith("Hi, could you get me a restaurant booking on the 8th please?\n")
    assert all(e.targets[0].count("\n") >= 1 for e in task.examples)


@pytest.mark.parametrize("text, field, problem", [
    ('[{"dialogue_id": "1_0", "turns": [{"utterance": "hi"}]}, {"dialogue_id": "1_1", "tur', "(JSON syntax)",
     "malformed JSON at line 1"),
    ('[{"dialogue_id": "1_0", "turns": []}]', "dialogue 0.turns", "empty"),
    ('[{"dialogue_id": "1_0", "turns": [{"utterance": "hi"}, {"speaker": "USER"}]}]', "dialogue 0.turns[1].utterance",
     "missing"),
    ('[{"turns": [{"utterance": "hi"}]}]', "dialogue 0.dialogue_id", "missing"),
    ('{"dialogue_id": "1_0"}', "(top level)", "expected a list of dialogues"),
])
def test_sgd_bad_input_names_benchmark_task_file_and_dialogue(tmp_path, text, field, problem):
    path = tmp_path / "dialogues_001.json"
    path.write_text(text)
    with pytest.raises(DataFormatError) as error:
        read_sgd_task(str(path), "sgd")
    assert (error.value.task, error.value.path, error.value.field) == ("dialogue:sgd", str(path), field)
    assert error.value.problem.startswith(problem)
    with pytest.raises(FileNotFoundError, match=r"dialogue:sgd: data file .*dialogues_002.json does not exist"):
        read_sgd_task(str(path), "sgd", files=(str(tmp_path / "dialogues_002.json"),))


@pytest.mark.parametrize("rows, field, problem", [
    ("where is my card,card_arrival,extra\n", "row 3", "expected 2 columns (text, category), found 3"),
    ("where is my card\n", "row 3", "expected 2 columns (text, category), found 1"),
    ("where is my card,not_an_intent\n", "row 3.category", "'not_an_intent' is not in"),
])
def test_banking77_bad_rows_name_benchmark_task_file_and_row(tmp_path, rows, field, problem):
    categories = tmp_path / "categories.json"
    categories.write_text('["card_arrival", "card_linking"]')
    path = tmp_path / "train.csv"
    path.write_text("text,category\nlink my card,card_linking\n" + rows)
    with pytest.raises(DataFormatError) as error:
        read_banking77_task(str(path), "banking77", categories=str(categories))
    assert (error.value.task, error.value.path, error.value.field) == ("dialogue:banking77", str(path), field)
    assert error.value.problem.startswith(problem)
    with pytest.raises(FileNotFoundError, match=r"dialogue:banking77: data file .*absent.csv does not exist"):
        read_banking77_task(str(tmp_path / "absent.csv"), "banking77", categories=str(categories))


def test_banking77_sample_offers_the_77_intents_as_options(tmp_path):
    folder = os.path.join(real_data_dir(), "dialogue", "banking77")
    categories = os.path.join(folder, "categories.json")
    for split, rows in (("train", 10003), ("test", 3080)):
        task = read_banking77_task(os.path.join(folder, f"{split}.csv"), "banking77", categories=categories)
        assert len(task.examples) == rows and task.layout == INSTRUCTION
        assert all(len(e.options) == 77 and e.targets[0] in e.options for e in task.examples)
    bad = tmp_path / "train.csv"
    bad.write_text("text,category\nwhere is my card,not_an_intent\n")
    with pytest.raises(DataFormatError, match=r"dialogue:banking77: .*train.csv: row 2.category: 'not_an_intent' is not in"):
        read_banking77_task(str(bad), "banking77", categories=categories)
