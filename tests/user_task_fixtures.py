"""Writing user tasks (a catalog TSV plus JSONL files) the way a user would, for the tests."""

from __future__ import annotations

import json
import os

HEADER = ("name", "benchmark", "category", "split", "level", "metric", "instruction", "data")


def write_jsonl(path, records) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)
    return str(path)


def write_user_catalog(folder, rows: list[dict]) -> str:
    """A catalog file in `folder`; each row's `records` are written to `<name>.jsonl` beside it."""
    lines = ["\t".join(HEADER)]
    for row in rows:
        write_jsonl(os.path.join(str(folder), f"{row['name']}.jsonl"), row["records"])
        values = {"benchmark": "user", "level": "", "metric": "", "data": f"{row['name']}.jsonl", **row}
        lines.append("\t".join(values[column] for column in HEADER))
    path = os.path.join(str(folder), "my_tasks.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def sentiment_records(count: int, offset: int = 0) -> list[dict]:
    """A learnable option task: the label word is in the input."""
    records = []
    for i in range(offset, offset + count):
        label = ("positive", "negative")[i % 2]
        records.append({"id": f"review-{i}", "input": f"Review {i}: the meal was {label} and the service was {label}.",
                        "targets": [label], "options": ["positive", "negative"]})
    return records
