"""A run's folder: what each step wrote, and the check that a resumed run is the same run.

``runs/<name>/run.json`` records the settings a run was started with. A later
``loop`` with the same name resumes it only if those settings match (the settings
in :data:`~.settings.MUTABLE_SETTINGS`, e.g. the number of rounds, may change);
otherwise it refuses and names what differs. It also records the environment
(package versions, threads, CPU), which may change with a warning. Each step's
output is written atomically, so a step is finished exactly when its output exists.
One process at a time may work on a run folder: :meth:`RunFolder.lock` holds an
exclusive lock for the process's lifetime and refuses a second one.
"""
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence

import srsly
from thinc.api import Config

from ..environment import differences
from ..errors import RunStateError
from ..fileio import read_jsonl, remove_stale_temps, write_json
from ..policy.registry import make_label_policy
from ..review.settings import REVIEW, make_review

logger = logging.getLogger(__name__)
# Keys of run.json that describe where a run ran, not what it is: never a reason to refuse a resume.
ENVIRONMENT_KEY = "environment"
LOCK_NAME = ".lock"


class RunFolder:
    """Paths inside ``runs/<name>/`` and the run's saved identity."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: Optional[IO[str]] = None

    def lock(self) -> None:
        """Take the folder's exclusive lock for this process's lifetime, or raise if another process holds it.

        The lock is an ``flock`` on ``<run>/.lock``: the kernel releases it when the process ends, however it
        ends (``kill -9`` included), so a stale lock never blocks a resume.
        """
        if self._lock is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        handle = (self.root / LOCK_NAME).open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunStateError(
                f"{self.root} is in use by {holder}. Two processes on one run would delete each other's work "
                "(and pay twice for LLM labels): wait for it to finish or stop it, then run again.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} (since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        """Release the lock (also released when the process ends)."""
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

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

    def claim(self, identity: Dict[str, Any], mutable: Sequence[str] = ()) -> bool:
        """Write ``run.json`` for a new run, or check it against a resumed one; True when resuming.

        Call :meth:`lock` first: resuming deletes the work folders an interrupted process left.
        ``mutable``: keys of ``identity`` that may differ from the saved run (they are updated).
        """
        if self._lock is None:
            raise RunStateError(f"{self.root}: take the run's lock before claiming it")
        path = self.root / "run.json"
        identity = {key: self._comparable(key, value) for key, value in identity.items()}
        if not path.exists():
            write_json(path, identity)
            return False
        removed = remove_stale_temps(self.root)
        if removed:
            logger.info("removed %d unfinished work folders left by an interrupted run", removed)
        saved = srsly.read_json(path)
        if "learner_config_effective" in identity and "learner_config_effective" not in saved:
            raise RunStateError(
                f"{self.root} holds a run started by an earlier version of spacy-llm-loop, before the learner's "
                "dev data came out of the labelled set, so it cannot be resumed as the same run. Start a new one "
                "with another --run-name (or --vars.dev oracle for the old behaviour); LLM answers already paid "
                "for are kept in its round-*/annotations.jsonl and in the LLM cache, where a new run asking the "
                "same prompts finds them.")
        ignored = set(mutable) | {ENVIRONMENT_KEY}
        same = self._comparable
        differs = sorted(k for k in set(saved) | set(identity)
                         if k not in ignored and same(k, saved.get(k)) != same(k, identity.get(k)))
        if differs:
            raise RunStateError(
                f"{self.root} holds a run started with other settings ({', '.join(differs)}). "
                "Choose another --run-name (in the project: --vars.run), or delete the folder to start over.")
        changed = differences(saved.get(ENVIRONMENT_KEY) or {}, identity.get(ENVIRONMENT_KEY) or {})
        if changed and saved.get(ENVIRONMENT_KEY):
            logger.warning("%s: resuming in another environment (%s); each round's record says where it ran",
                           self.root, ", ".join(changed[:8]))
        write_json(path, {**identity, ENVIRONMENT_KEY: saved.get(ENVIRONMENT_KEY, identity.get(ENVIRONMENT_KEY))})
        return True

    def _comparable(self, key: str, value: Any) -> Any:
        """``value`` as it is saved and compared on resume: in the loop config, a ``run_name`` that is this folder's
        own name (or empty) is the same as none (a run started with ``--run-name <its default name>``, the project's
        default ``--vars.run``, and one started without resume each other)."""
        if key == "review" and isinstance(value, dict):  # runs saved with review.wait, which may now change
            return {k: v for k, v in value.items() if k != "wait"}
        if key != "loop_config" or not isinstance(value, str):
            return value
        try:
            config = Config().from_str(value, interpolate=False)
        except Exception:  # noqa: BLE001  (text that is not a config is compared as it is)
            return value
        if config.get("loop", {}).get("run_name") in ("", self.root.name):
            config["loop"]["run_name"] = None
        if is_trust_block(config.get("label_policy")):  # runs from before label policies had no block: the same
            del config["label_policy"]
        if "review" in config:
            review = review_identity(config["review"])
            if review is None:  # no review at all (budget 0): the same as a config without the block
                del config["review"]
            else:  # defaults spelt out or not, and wait (which may change on resume), compare the same
                config["review"] = review
        return config.to_str()  # both sides through the same serialisation

    def read_ids(self, name: str) -> Optional[List[str]]:
        """A list of sentence ids saved as ``<name>.json``, or None."""
        path = self.root / f"{name}.json"
        return srsly.read_json(path)["ids"] if path.exists() else None

    def write_ids(self, name: str, ids: List[str]) -> None:
        """Save a list of sentence ids as ``<name>.json``."""
        write_json(self.root / f"{name}.json", {"ids": ids})


def is_trust_block(block: Any) -> bool:
    """Whether a ``[label_policy]`` config block is the ``trust`` policy (the answers taught as they are)."""
    if not isinstance(block, dict):
        return False
    try:
        return make_label_policy(**{k: v for k, v in block.items() if not k.startswith("@")}).is_trust
    except (TypeError, ValueError):
        return False


def review_identity(block: Any) -> Optional[Dict[str, Any]]:
    """A ``[review]`` block as compared on resume: None without review, else its settings in full, less ``wait``."""
    if not isinstance(block, dict):
        return None
    try:
        settings = make_review(**{k: v for k, v in block.items() if not k.startswith("@")})
    except (TypeError, ValueError):
        return dict(block)
    return {"@misc": REVIEW, **settings.identity()} if settings.active else None


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
