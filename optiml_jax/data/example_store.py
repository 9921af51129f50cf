"""Random access to any task's examples without keeping 2,000 tasks' data in memory.

The first time a task file is used, its reader parses it once and the canonical examples are
written to a cache file (one JSON line per example after a header line) with an array of line
offsets. Later reads fetch single lines with `os.pread`, so memory holds only the offsets (8 bytes
per example) and the task header, whatever the size of the collection. A cache entry is keyed by
the source file's absolute path, size and modification time, so an edited file is re-read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from optiml_jax.data import paths
from optiml_jax.data.examples import Demonstration, Example
from optiml_jax.data.formats import READERS

_CACHE_FORMAT = 1


class TaskExamples:
    """One task's header (instruction, demonstrations, skip counts) and its examples by index."""

    def __init__(self, header: dict, cache_path: str, offsets: np.ndarray):
        self.name: str = header["name"]
        self.instruction: str = header["instruction"]
        self.demonstrations = tuple(Demonstration(i, o) for i, o in header["demonstrations"])
        self.skipped: dict[str, int] = header["skipped"]
        self._header = header
        self._cache_path = cache_path
        self._offsets = offsets  # [num_examples + 1] byte offsets of the example lines.

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def head(self, count: int) -> "TaskExamples":
        """The first `count` examples (SuperNI's evaluation instances are a task's first 100)."""
        return TaskExamples(self._header, self._cache_path, self._offsets[: min(count, len(self)) + 1])

    def read(self, indices) -> list[Example]:
        fd = os.open(self._cache_path, os.O_RDONLY)
        try:
            examples = []
            for index in indices:
                if not 0 <= index < len(self):
                    raise IndexError(f"{self.name}: example {index} out of range (task has {len(self)})")
                start, end = int(self._offsets[index]), int(self._offsets[index + 1])
                examples.append(Example.from_json(json.loads(os.pread(fd, end - start, start))))
            return examples
        finally:
            os.close(fd)

    def __getitem__(self, index: int) -> Example:
        return self.read([index])[0]

    def __iter__(self):
        return iter(self.read(range(len(self))))


class ExampleStore:
    """Opens tasks through their readers, caching parsed examples on disk (see module docstring)."""

    def __init__(self, cache_dir: str | None = None):
        self._root = os.path.join(cache_dir or paths.cache_dir(), "examples")
        self._opened: dict[tuple[str, str], TaskExamples] = {}

    def open(self, reader: str, name: str, path: str) -> TaskExamples:
        key = (reader, path)
        if key not in self._opened:
            self._opened[key] = self._load_or_build(reader, name, path)
        return self._opened[key]

    def _cache_stem(self, reader: str, name: str, path: str) -> str:
        status = os.stat(path)  # Raises FileNotFoundError naming the missing task file.
        identity = f"{_CACHE_FORMAT}|{os.path.abspath(path)}|{status.st_size}|{status.st_mtime_ns}"
        digest = hashlib.blake2b(identity.encode(), digest_size=8).hexdigest()
        return os.path.join(self._root, reader, f"{name}.{digest}")

    def _load_or_build(self, reader: str, name: str, path: str) -> TaskExamples:
        stem = self._cache_stem(reader, name, path)
        if not (os.path.exists(stem + ".jsonl") and os.path.exists(stem + ".offsets.npy")):
            self._build(READERS[reader](path, name), stem)
        offsets = np.load(stem + ".offsets.npy")
        with open(stem + ".jsonl", "rb") as f:
            header = json.loads(f.readline())
        return TaskExamples(header, stem + ".jsonl", offsets)

    @staticmethod
    def _build(task, stem: str) -> None:
        lines = [json.dumps(task.header_json(), ensure_ascii=False).encode("utf-8") + b"\n"]
        lines += [json.dumps(e.to_json(), ensure_ascii=False).encode("utf-8") + b"\n" for e in task.examples]
        # Start of every example line (the header is line 0) and the end of the file.
        offsets = np.cumsum([len(line) for line in lines], dtype=np.int64)
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        # Write under temporary names and rename, so a concurrent reader never sees half a file.
        for suffix, write in ((".jsonl", lambda f: f.writelines(lines)), (".offsets.npy", lambda f: np.save(f, offsets))):
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(stem))
            with os.fdopen(handle, "wb") as f:
                write(f)
            os.replace(temporary, stem + suffix)
