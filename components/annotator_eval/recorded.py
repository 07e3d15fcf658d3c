"""Read recorded LLM annotations: ``<model>/<lang>.json`` as the paper's code saved them.

A file is a JSON object with keys ``record_<i>`` (each with ``tokens``, ``true`` = gold tags and ``pred`` =
the runs, each a list of ``[token, tag]`` pairs as the model returned them) and optionally
``overall_consistency``. Runs are kept exactly as recorded: judging them is the metrics' job.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

from ..data.iob import iob_tagset
from ..errors import InputError

SCHEMA = iob_tagset()  # the 9 tags: O, B-/I- PER ORG LOC DATE
RECORD_KEY = re.compile(r"^record_(\d+)$")


@dataclass(frozen=True)
class Record:
    """One sentence: its gold tokens and tags and the runs as recorded (``key`` is ``record_<index>``)."""

    key: str
    index: int
    tokens: List[str]
    gold: List[str]
    runs: List[Any]


@dataclass(frozen=True)
class Recording:
    """One file: the model (its folder's name), the language (its name) and its records in index order."""

    path: Path
    model: str
    lang: str
    records: List[Record]
    overall_consistency: Optional[float]


def element_tag(element: Any) -> Any:
    """The tag of one run element (its second item), or ``None`` when the element carries no tag."""
    if isinstance(element, (list, tuple)) and len(element) > 1:
        return element[1]
    return None


def is_pair(element: Any) -> bool:
    """Whether a run element is a well-formed ``[token, tag]`` pair of two strings."""
    return isinstance(element, (list, tuple)) and len(element) == 2 and all(isinstance(x, str) for x in element)


def run_tags(run: Any) -> Optional[List[Any]]:
    """The tags of a run (``None`` for an element without a tag), or ``None`` when the run is not a list."""
    if not isinstance(run, list):
        return None
    return [element_tag(element) for element in run]


def _string_list(record: dict, key: str, path: Path, where: str) -> List[str]:
    value = record.get(key)
    if value is None:
        raise InputError(f"{where}: missing key '{key}' (need 'tokens', 'true' and 'pred')", path)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InputError(f"{where}: '{key}' must be a list of strings", path)
    return value


def _record(key: str, index: int, value: Any, path: Path) -> Record:
    where = f"record {index} ('{key}')"
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected an object with 'tokens', 'true' and 'pred', got {type(value).__name__}",
                         path)
    tokens = _string_list(value, "tokens", path, where)
    gold = _string_list(value, "true", path, where)
    if not tokens:
        raise InputError(f"{where}: no tokens", path)
    if len(tokens) != len(gold):
        raise InputError(f"{where}: {len(tokens)} tokens but {len(gold)} gold tags", path)
    runs = value.get("pred")
    if runs is None:
        raise InputError(f"{where}: missing key 'pred' (need 'tokens', 'true' and 'pred')", path)
    if not isinstance(runs, list):
        raise InputError(f"{where}: 'pred' must be a list of runs, got {type(runs).__name__}", path)
    return Record(key, index, tokens, gold, runs)


def read_recording(path: Union[str, Path]) -> Recording:
    """Read and check one file; :class:`InputError` names the file (and line, or record) of any problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg} at column {err.colno})", path, err.lineno) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", path) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object of 'record_<i>' keys, got {type(data).__name__}", path)
    keyed = sorted((int(m.group(1)), key) for key in data if (m := RECORD_KEY.match(key)))
    if not keyed:
        raise InputError("no 'record_<i>' keys: not a recording of LLM annotations", path)
    records = [_record(key, index, data[key], path) for index, key in keyed]
    overall = data.get("overall_consistency")
    return Recording(path, path.parent.name, path.stem, records,
                     float(overall) if isinstance(overall, (int, float)) else None)


def find_recordings(path: Union[str, Path]) -> List[Path]:
    """``path`` itself when it is a file, else every ``*.json`` below it (sorted); raises when there is none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError("no such file or folder", path)
    found = sorted(path.rglob("*.json"))
    if not found:
        raise InputError("no .json recordings in this folder", path)
    return found


def in_schema(tag: Any, schema: Sequence[str] = SCHEMA) -> bool:
    """Whether ``tag`` is one of the schema's tags (a missing tag, ``None``, is not out of schema: it reads as O)."""
    return tag is None or tag in schema
