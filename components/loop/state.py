"""A run's folder: what each step wrote, and the check that a resumed run is the same run.

``runs/<name>/run.json`` records the settings a run was started with. A later
``loop`` with the same name resumes it only if those settings match (the number
of rounds and the device may change: a run can be extended); otherwise it
refuses and names what differs. Each step's output is written atomically, so a
step is finished exactly when its output exists.
"""
import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import srsly

from ..errors import RunStateError
from ..fileio import read_jsonl, remove_stale_temps, write_json

logger = logging.getLogger(__name__)

# Settings that may change between a run's start and its resumption.
MUTABLE = ("loop.rounds", "loop.gpu_id")


class RunFolder:
    """Paths inside ``runs/<name>/`` and the run's saved identity."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def round_dir(self, k: int) -> Path:
        """``round-<k>``: everything round ``k`` wrote."""
        return self.root / f"round-{k:02d}"

    @property
    def loop_json(self) -> Path:
        """The run's metrics file, one record per finished round."""
        return self.root / "loop.json"

    def record_path(self, k: int) -> Path:
        """The finished round's record (the source ``loop.json`` is rebuilt from)."""
        return self.round_dir(k) / "record.json"

    def records(self) -> List[Dict[str, Any]]:
        """The records of the finished rounds, in order."""
        out = []
        k = 0
        while self.record_path(k).exists():
            out.append(srsly.read_json(self.record_path(k)))
            k += 1
        return out

    def claim(self, identity: Dict[str, Any]) -> bool:
        """Write ``run.json`` for a new run, or check it against a resumed one; True when resuming."""
        path = self.root / "run.json"
        if not path.exists():
            write_json(path, identity)
            return False
        removed = remove_stale_temps(self.root)
        if removed:
            logger.info("removed %d unfinished work folders left by an interrupted run", removed)
        saved = srsly.read_json(path)
        differs = sorted(k for k in set(saved) | set(identity) if k not in MUTABLE and saved.get(k) != identity.get(k))
        if differs:
            raise RunStateError(
                f"{self.root} holds a run started with other settings ({', '.join(differs)}). "
                "Choose another --run-name, or delete the folder to start over.")
        write_json(path, identity)
        return True

    def read_ids(self, name: str) -> Optional[List[str]]:
        """A list of sentence ids saved as ``<name>.json``, or None."""
        path = self.root / f"{name}.json"
        return srsly.read_json(path)["ids"] if path.exists() else None

    def write_ids(self, name: str, ids: List[str]) -> None:
        """Save a list of sentence ids as ``<name>.json``."""
        write_json(self.root / f"{name}.json", {"ids": ids})


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (to notice a changed learner config or corpus)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def flatten(config: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: Dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def read_scores(path: Path) -> Dict[str, Dict[str, Any]]:
    """Pool scores saved by a round, by sentence id."""
    return {record["id"]: record for record in read_jsonl(path)}
