"""Crash-safe file writing: nothing half-written is ever left where a reader looks.

Whole files and folders are written beside their destination and renamed into
place (atomic on POSIX). Append-only JSONL logs are flushed and fsynced line by
line, and opening one drops a last line cut short by a crash, so an interrupted
run keeps everything it had finished.
"""
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Tuple, Union

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
    """An append-only JSONL file that survives ``kill -9``: each record is fsynced as written.

    It holds no records: iterating reads them from the file (a broken line raises, naming file and line), so a
    log of a hundred thousand answers costs no memory between reads. A write is whole lines, so a crash can only
    cut the last line short; opening the log drops such a line.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._recover()

    def _recover(self) -> None:
        """Drop a last line cut short by a crash (the file is cut back to the newline before it); a whole last
        record written without its newline gets one, so the next append starts a line of its own.

        The last non-blank line is parsed as the reader parses it. A broken one that ends in a newline is left
        alone: a write is whole lines, so no crash made it, and reading the log refuses it, naming the line.
        """
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            content_end = _content_end(f, f.seek(0, os.SEEK_END))
            if content_end == 0:
                return
            start = _last_line_start(f, content_end)
            f.seek(start)
            tail = f.read()
            cut = tail.find(b"\n")
            try:
                json.loads((tail if cut < 0 else tail[:cut]).decode("utf-8"))
            except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
                if cut >= 0:
                    return
                line = _count_newlines(f, start) + 1
                logger.warning("%s:%d: dropping a record cut short by an interruption", self.path, line)
                mend = "truncate"
            else:
                if tail.endswith(b"\n"):
                    return
                mend = "newline"
        with self.path.open("rb+") as f:
            if mend == "truncate":
                f.truncate(start)
            else:
                f.seek(0, os.SEEK_END)
                f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        """The records, read one by one from the file."""
        if self.path.exists():
            for _, record in iter_jsonl(self.path):
                yield record

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


def _content_end(f: BinaryIO, end: int) -> int:
    """The offset just after the last byte before ``end`` that is not whitespace (0 if none)."""
    return _scan_back(f, end, lambda block: len(block.rstrip()) - 1)


def _last_line_start(f: BinaryIO, end: int) -> int:
    """The offset just after the last newline before ``end`` (0 if none)."""
    return _scan_back(f, end, lambda block: block.rfind(b"\n"))


def _scan_back(f: BinaryIO, end: int, find: Callable[[bytes], int], chunk: int = 1 << 16) -> int:
    """Read backwards from ``end`` a chunk at a time; the offset just after the byte ``find`` points at in the
    first chunk where it finds one (``find`` gives the index of the last wanted byte of a block, or -1), else 0."""
    pos = end
    while pos > 0:
        start = max(0, pos - chunk)
        f.seek(start)
        found = find(f.read(pos - start))
        if found >= 0:
            return start + found + 1
        pos = start
    return 0


def _count_newlines(f: BinaryIO, end: int, chunk: int = 1 << 20) -> int:
    """How many newlines the file holds before offset ``end`` (for a line number in a warning)."""
    f.seek(0)
    count, left = 0, end
    while left > 0:
        block = f.read(min(chunk, left))
        if not block:
            break
        count += block.count(b"\n")
        left -= len(block)
    return count
