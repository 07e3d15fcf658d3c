"""The usage ledger: one JSONL record per request attempt or cache hit, fsynced as written.

Fields: ``time``, ``model``, ``provider``, ``prompt_hash``, ``attempt``,
``outcome`` (``ok``, ``retry``, ``failed``, ``rejected``, ``cache_hit``,
``budget_refused``, ``malformed_response``: a 200 whose body could not be read,
billed all the same), ``retried`` (on ``malformed_response``: whether another
try followed), ``status`` (HTTP), ``error``, ``latency_s``, ``input_tokens`` and
``output_tokens`` (from the API's ``usage``; ``usage_estimated`` when the reply
had none and they were counted here; on a cache hit, those of the stored
response, which cost nothing now), ``cache`` (``hit`` or ``miss``),
``request_id`` and the caller's ``context`` (e.g. the loop's round).
No header, key or URL query is ever written.
"""
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

from ...fileio import JsonlLog

# Outcomes of requests the API billed for (their tokens count against budgets and costs).
PAID_OUTCOMES = ("ok", "malformed_response")


class UsageLedger:
    """A thread-safe append-only JSONL ledger (see the module docstring); ``path=None`` keeps it in memory.

    A file ledger holds no records, only running totals per round (what :meth:`usage` returns, and a progress bar
    asks for every few seconds), so a run of a hundred thousand requests does not keep them all in memory.
    """

    def __init__(self, path: Optional[Union[str, Path]] = None,
                 past: Optional[Callable[[Dict[str, Any]], None]] = None) -> None:
        """``past``: called with each record earlier processes left in the file (e.g. a budget counting what they
        spent), in the one pass that counts them."""
        self._lock = threading.Lock()
        self._log = JsonlLog(path) if path else None
        self._memory: List[Dict[str, Any]] = []
        self._usage: Dict[Any, Usage] = {}
        self._count = 0
        for record in self.iter_records():
            self._add(record)
            if past is not None:
                past(record)

    def iter_records(self) -> Iterator[Dict[str, Any]]:
        """Every record so far (including those of earlier processes, for a file ledger), read one by one from
        the file; not while requests are being recorded, whose last line may be half written."""
        return iter(self._log) if self._log is not None else iter(list(self._memory))

    @property
    def count(self) -> int:
        """How many records so far (not ``__len__``: an empty ledger must not be falsy where ``ledger or ...``)."""
        return self._count

    def append(self, **record: Any) -> Dict[str, Any]:
        """Add one record, stamped with the time."""
        record = {"time": round(time.time(), 3), **record}
        with self._lock:
            if self._log is not None:
                self._log.append(record)
            else:
                self._memory.append(record)
            self._add(record)
        return record

    def _add(self, record: Dict[str, Any]) -> None:
        self._count += 1
        self._usage.setdefault(_round(record), Usage()).add(record)

    def usage(self, k: Optional[int] = None) -> Dict[str, Any]:
        """:func:`summarize` of the records of round ``k`` (of every record if None), from the running totals."""
        with self._lock:
            parts = [u for key, u in self._usage.items() if k is None or key == k]
            total = Usage()
            for part in parts:
                total.merge(part)
        return total.as_dict()


def _round(record: Dict[str, Any]) -> Any:
    """The round a record belongs to (its ``context``'s), None if it names none; compared with ``==`` as a key."""
    round_k = (record.get("context") or {}).get("round")
    try:
        hash(round_k)
    except TypeError:
        return repr(round_k)
    return round_k


@dataclass
class Usage:
    """Running totals over ledger records: what :func:`summarize` counts, one record at a time."""

    http_requests: int = 0
    answered: int = 0
    retries: int = 0
    errors: Dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    budget_refused: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, r: Dict[str, Any]) -> None:
        """Count one record."""
        outcome = r.get("outcome")
        self.cache_hits += outcome == "cache_hit"
        self.budget_refused += outcome == "budget_refused"
        if r.get("cache") != "miss" or outcome == "budget_refused":
            return  # not sent
        self.http_requests += 1
        self.answered += outcome == "ok"
        self.retries += outcome == "retry" or (outcome == "malformed_response" and bool(r.get("retried")))
        if outcome != "ok":
            kind = "malformed_response" if outcome == "malformed_response" else \
                str(r.get("status") or r.get("error") or "unknown").split(":")[0]
            self.errors[kind] = self.errors.get(kind, 0) + 1
        if outcome in PAID_OUTCOMES:
            self.input_tokens += r.get("input_tokens") or 0
            self.output_tokens += r.get("output_tokens") or 0

    def merge(self, other: "Usage") -> None:
        """Add another total's counts to this one."""
        for name in (f.name for f in fields(self) if f.name != "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n

    def as_dict(self) -> Dict[str, Any]:
        """The totals as :func:`summarize` returns them."""
        return asdict(self)


def summarize(records: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """Requests, retries, errors by kind, cache hits and tokens paid for, over ledger records."""
    total = Usage()
    for r in records:
        total.add(r)
    return total.as_dict()
