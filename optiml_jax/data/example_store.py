"""Random access to any task's examples without keeping 2,000 tasks' data in memory.

The first time a task is used, its reader parses its files once and the canonical examples are
written to a cache file (one JSON line per example after a header line) with an array of line
offsets and an array of 64-bit hashes of each example's row id (what held-out instances are cut
by). Later reads fetch single lines with `os.pread`, so memory holds only the offsets and row
hashes (16 bytes per example) and the task header, whatever the size of the collection. A cache
entry is keyed by the reader, its arguments and every input file's absolute path and content
digest (`content_digest`), so an edited file is re-read even when the edit kept its size and
modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Sequence

import numpy as np

from optiml_jax.data import paths
from optiml_jax.data.examples import Demonstration, Example
from optiml_jax.data.formats import READERS

_CACHE_FORMAT = 2
ReaderArgs = tuple[tuple[str, object], ...]


def content_digest(path: str) -> str:
    """A 128-bit digest of a file's bytes (hex): what the example cache and the data stream's
    fingerprint (`optiml_jax.data.pipeline`) key on. Content, not size or modification time: an
    edit can keep both."""
    with open(path, "rb") as f:  # Raises FileNotFoundError naming a missing task file.
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def row_hash(row_key: str) -> int:
    """A 64-bit hash of a row id, the same on every machine."""
    return int.from_bytes(hashlib.blake2b(row_key.encode("utf-8"), digest_size=8).digest(), "little")


class TaskExamples:
    """One task's header (instruction, demonstrations, skip counts, layout) and some of its
    examples (all, or a selection) by index."""

    def __init__(self, header: dict, cache_path: str, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray):
        self.name: str = header["name"]
        self.instruction: str = header["instruction"]
        self.demonstrations = tuple(Demonstration(i, o) for i, o in header["demonstrations"])
        self.skipped: dict[str, int] = header["skipped"]
        self.layout: str = header["layout"]
        self._header = header
        self._cache_path = cache_path
        self._starts, self._ends = starts, ends  # [num_examples] byte ranges of the example lines.
        self.row_hashes = rows  # uint64 [num_examples]: `row_hash(example.row_key)`.

    def __len__(self) -> int:
        return len(self._starts)

    def select(self, indices: Sequence[int] | np.ndarray) -> "TaskExamples":
        """These examples, renumbered from 0 in the given order."""
        indices = np.asarray(indices, dtype=np.int64)
        return TaskExamples(self._header, self._cache_path, self._starts[indices], self._ends[indices],
                            self.row_hashes[indices])

    def head(self, count: int) -> "TaskExamples":
        """The first `count` examples (SuperNI's evaluation instances are a task's first 100)."""
        return self.select(np.arange(min(count, len(self))))

    def read(self, indices) -> list[Example]:
        fd = os.open(self._cache_path, os.O_RDONLY)
        try:
            examples = []
            for index in indices:
                if not 0 <= index < len(self):
                    raise IndexError(f"{self.name}: example {index} out of range (task has {len(self)})")
                start, end = int(self._starts[index]), int(self._ends[index])
                examples.append(Example.from_json(json.loads(os.pread(fd, end - start, start))))
            return examples
        finally:
            os.close(fd)

    def __getitem__(self, index: int) -> Example:
        return self.read([index])[0]

    def __iter__(self):
        return iter(self.read(range(len(self))))


def _input_files(path: str, args: ReaderArgs) -> list[str]:
    """What a reader reads: `path` and every argument that is a path to a file (or a tuple of them).
    A path has a folder part: the readers' other string arguments ("en", "text", "{0}") never count,
    whatever files the working directory holds."""
    files = [path]
    for _, value in args:
        for candidate in value if isinstance(value, tuple) else (value,):
            if (isinstance(candidate, str) and os.sep in candidate and os.path.isfile(candidate)
                    and candidate not in files):
                files.append(candidate)
    return files


def data_files(path: str, args: ReaderArgs = ()) -> list[str]:
    """Every file a reader reads, a folder (a prepared TFDS dataset) expanded to its files."""
    files = []
    for item in _input_files(path, args):
        if os.path.isdir(item):
            files += sorted(os.path.join(root, f) for root, _, names in os.walk(item) for f in names)
        else:
            files.append(item)
    return files


class ExampleStore:
    """Opens tasks through their readers, caching parsed examples on disk (see module docstring)."""

    def __init__(self, cache_dir: str | None = None):
        self._root = os.path.join(cache_dir or paths.cache_dir(), "examples")
        self._opened: dict[tuple, TaskExamples] = {}
        self._digests: dict[str, str] = {}  # absolute path -> content_digest

    def file_digests(self, path: str, args: ReaderArgs = ()) -> list[tuple[str, str]]:
        """`(file, content digest)` of every file a reader reads (`data_files`, in order). A file
        is hashed once per store, so a stream's fingerprint and the cache keys of the tasks it
        opens share one pass over the data."""
        digests = []
        for file in data_files(path, args):
            key = os.path.abspath(file)
            if key not in self._digests:
                self._digests[key] = content_digest(file)
            digests.append((file, self._digests[key]))
        return digests

    def open(self, reader: str, name: str, path: str, args: ReaderArgs = ()) -> TaskExamples:
        key = (reader, path, args)
        if key not in self._opened:
            self._opened[key] = self._load_or_build(reader, name, path, args)
        return self._opened[key]

    def _cache_stem(self, reader: str, name: str, path: str, args: ReaderArgs) -> str:
        identity = [f"{_CACHE_FORMAT}|{reader}|{args!r}"]
        identity += [f"{os.path.abspath(file)}|{digest}" for file, digest in self.file_digests(path, args)]
        digest = hashlib.blake2b("\n".join(identity).encode(), digest_size=8).hexdigest()
        return os.path.join(self._root, reader, f"{name.replace('/', '__')}.{digest}")

    def _load_or_build(self, reader: str, name: str, path: str, args: ReaderArgs) -> TaskExamples:
        stem = self._cache_stem(reader, name, path, args)
        suffixes = (".jsonl", ".offsets.npy", ".rows.npy")
        if not all(os.path.exists(stem + suffix) for suffix in suffixes):
            self._build(READERS[reader](path, name, **dict(args)), stem)
        offsets = np.load(stem + ".offsets.npy")
        with open(stem + ".jsonl", "rb") as f:
            header = json.loads(f.readline())
        return TaskExamples(header, stem + ".jsonl", offsets[:-1], offsets[1:], np.load(stem + ".rows.npy"))

    @staticmethod
    def _build(task, stem: str) -> None:
        lines = [json.dumps(task.header_json(), ensure_ascii=False).encode("utf-8") + b"\n"]
        lines += [json.dumps(e.to_json(), ensure_ascii=False).encode("utf-8") + b"\n" for e in task.examples]
        # Start of every example line (the header is line 0) and the end of the file.
        offsets = np.cumsum([len(line) for line in lines], dtype=np.int64)
        rows = np.asarray([row_hash(e.row_key) for e in task.examples], dtype=np.uint64)
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        # Write under temporary names and rename, so a concurrent reader never sees half a file.
        writes = ((".offsets.npy", lambda f: np.save(f, offsets)), (".rows.npy", lambda f: np.save(f, rows)),
                  (".jsonl", lambda f: f.writelines(lines)))
        for suffix, write in writes:
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(stem))
            with os.fdopen(handle, "wb") as f:
                write(f)
            os.replace(temporary, stem + suffix)
