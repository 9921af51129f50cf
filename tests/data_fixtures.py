"""Helpers for the data tests: the real data folder (or a skip) and small SuperNI-format files."""

from __future__ import annotations

import json
import os

import pytest


def real_data_dir() -> str:
    folder = os.environ.get("OPTIML_DATA_DIR")
    if not folder:
        pytest.skip("OPTIML_DATA_DIR is not set: these tests read the real OPT-IML Bench data")
    return folder


def superni_task_record(name: str, instances: list[tuple[str, list[str]]], *, category: str = "Question Answering",
                        positives: int = 3) -> dict:
    """A task in the SuperNI v2 schema (all fields the real files have)."""
    return {
        "Contributors": ["fixture"], "Source": [f"{name}_source"], "URL": [""], "Categories": [category],
        "Reasoning": [], "Definition": [f"Answer the question of {name}."], "Input_language": ["English"],
        "Output_language": ["English"], "Instruction_language": ["English"], "Domains": ["Fixture"],
        "Positive Examples": [{"input": f"demo input {i}", "output": f"demo output {i}", "explanation": ""} for i in range(positives)],
        "Negative Examples": [],
        "Instances": [{"id": f"{name}-{i}", "input": text, "output": outputs} for i, (text, outputs) in enumerate(instances)],
        "Instance License": ["Unknown"],
    }


def write_superni_task(folder, name: str, instances: list[tuple[str, list[str]]], **kwargs) -> str:
    path = os.path.join(str(folder), f"{name}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(superni_task_record(name, instances, **kwargs), f)
    return path
