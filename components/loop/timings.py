"""Seconds per step of a round, saved after each step so a resumed round keeps what it spent."""
import time
from pathlib import Path
from typing import Any, Dict

import srsly

from ..fileio import write_json

STEPS = ("train", "train_committee", "score", "select", "annotate", "evaluate")


class Timings:
    """Seconds per step, read from and saved to ``round-<k>/timings.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: Dict[str, float] = srsly.read_json(path) if path.exists() else {}

    def measure(self, step: str) -> "_Timer":
        """A context manager adding the time spent inside it to ``step``."""
        return _Timer(self, step)

    def add(self, step: str, seconds: float) -> None:
        """Add ``seconds`` to ``step`` and save."""
        self.data[step] = self.data.get(step, 0.0) + seconds
        write_json(self.path, self.data)

    def rounded(self) -> Dict[str, float]:
        """Every step of :data:`STEPS`, rounded to 10 ms (0 for a step not taken)."""
        return {key: round(self.data.get(key, 0.0), 2) for key in STEPS}


class _Timer:
    def __init__(self, timings: Timings, step: str) -> None:
        self.timings, self.step = timings, step

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timings.add(self.step, time.perf_counter() - self.start)
