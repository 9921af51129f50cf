"""What a conversion tells its user: a progress bar while it runs, a summary when it is done."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm.auto import tqdm


def progress_bar(total: int, description: str, enabled: bool) -> tqdm:
    """Counts tensors; callers show the file being read as the postfix."""
    return tqdm(total=total, desc=description, unit="tensor", disable=not enabled, leave=False)


def format_bytes(num_bytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if num_bytes >= scale:
            return f"{num_bytes / scale:.2f} {unit}"
    return f"{num_bytes} bytes"


@dataclasses.dataclass
class ConversionSummary:
    destination: Path
    num_params: int
    num_bytes: int   # parameter bytes written (in the output dtype)
    dtype: str
    files: list[Path]
    notes: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"Wrote {self.destination}: {self.num_params:,} parameters, "
                 f"{format_bytes(self.num_bytes)} as {self.dtype}. Files:"]
        lines += [f"  {path}" for path in self.files]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)
