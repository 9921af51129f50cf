"""Byte sizes written the way Hugging Face and XLA users write them: `5GB`, `500MiB`, `1024`."""

from __future__ import annotations

import re

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
          "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_bytes(text: str) -> int:
    """`5GB` (10^9), `40GiB` (2^30), or a plain number of bytes; units are case-insensitive."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a size; write e.g. 40GiB, 5GB or 500MB.")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])
