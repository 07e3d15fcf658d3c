"""Crash-safe file writing: nothing half-written is ever left where a reader looks.

Whole files and folders are written beside their destination and renamed into
place (atomic on POSIX). Append-only JSONL logs are flushed and fsynced line by
line, and a reader skips a last line cut short by a crash, so an interrupted run
keeps everything it had finished.
"""
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Tuple, Union

import srsly

from .errors import InputError

logger = logging.getLogger(__name__)
PathLike = Union[str, Path]
TMP_MARK = ".tmp-"  # in the names of work folders, so leftovers of a killed process can be found


@contextlib.contextmanager
def atomic_path(path: PathLike, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent))
    target = tmp if is_dir else tmp / path.name
    try:
        yield target
        if is_dir and path.exists():
            shutil.rmtree(path)
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temps(root: PathLike) -> int:
    """Delete work folders left under ``root`` by a killed process; return how many."""
    stale = [p for p in Path(root).rglob(f".*{TMP_MARK}*") if p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def file_digest(path: PathLike) -> str:
    """SHA-256 of a file's bytes, 16 hex digits (to notice a changed config, corpus or model)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def write_json(path: PathLike, data: Any) -> None:
    """Write indented JSON atomically."""
    with atomic_path(path) as tmp:
        srsly.write_json(tmp, data)


def write_jsonl(path: PathLike, records: Iterable[Dict[str, Any]]) -> None:
    """Write JSONL atomically."""
    with atomic_path(path) as tmp:
        srsly.write_jsonl(tmp, records)


def write_text(path: PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def iter_jsonl(path: PathLike) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """``(line_number, record)`` pairs; a broken line raises :class:`InputError` naming file and line."""
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"not UTF-8 ({err.reason} at byte {err.start})", path, number) from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"not valid JSON ({err.msg} at column {err.colno})", path, number) from None


def read_jsonl(path: PathLike) -> List[Dict[str, Any]]:
    """All records of a JSONL file (see :func:`iter_jsonl`)."""
    return [record for _, record in iter_jsonl(path)]


class JsonlLog:
    """An append-only JSONL file that survives ``kill -9``: each record is fsynced as written."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records = self._recover()

    def _recover(self) -> List[Dict[str, Any]]:
        """Read what is there; drop a last line cut short by a crash and rewrite the file without it."""
        if not self.path.exists():
            return []
        lines = [(n, line) for n, line in enumerate(self.path.read_text(encoding="utf-8").split("\n"), 1)
                 if line.strip()]
        records = []
        for i, (number, line) in enumerate(lines):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if i < len(lines) - 1:
                    raise InputError("broken JSON line before the end of an append-only log",
                                     self.path, number) from None
                logger.warning("%s:%d: dropping a record cut short by an interruption", self.path, number)
                write_jsonl(self.path, records)
        return records

    def append(self, record: Dict[str, Any]) -> None:
        """Append one record and make sure it is on disk before returning."""
        self.extend([record])

    def extend(self, records: List[Dict[str, Any]]) -> None:
        """Append records in one write (all or, if killed mid-way, the complete lines before the cut)."""
        if not records:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(srsly.json_dumps(record) + "\n" for record in records))
            f.flush()
            os.fsync(f.fileno())
        self.records.extend(records)
