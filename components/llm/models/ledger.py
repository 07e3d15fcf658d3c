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
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ...fileio import JsonlLog

# Outcomes of requests the API billed for (their tokens count against budgets and costs).
PAID_OUTCOMES = ("ok", "malformed_response")


class UsageLedger:
    """A thread-safe append-only JSONL ledger (see the module docstring); ``path=None`` keeps it in memory."""

    def __init__(self, path: Optional[Union[str, Path]] = None) -> None:
        self._lock = threading.Lock()
        self._log = JsonlLog(path) if path else None
        self._memory: List[Dict[str, Any]] = []

    @property
    def records(self) -> List[Dict[str, Any]]:
        """Every record so far (including those of earlier processes, for a file ledger)."""
        return self._log.records if self._log else self._memory

    def append(self, **record: Any) -> Dict[str, Any]:
        """Add one record, stamped with the time."""
        record = {"time": round(time.time(), 3), **record}
        with self._lock:
            if self._log:
                self._log.append(record)
            else:
                self._memory.append(record)
        return record


def summarize(records: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Requests, retries, errors by kind, cache hits and tokens paid for, over ledger records."""
    sent = [r for r in records if r.get("cache") == "miss" and r["outcome"] != "budget_refused"]
    errors: Dict[str, int] = {}
    for r in sent:
        if r["outcome"] != "ok":
            kind = "malformed_response" if r["outcome"] == "malformed_response" else \
                str(r.get("status") or r.get("error") or "unknown").split(":")[0]
            errors[kind] = errors.get(kind, 0) + 1
    paid = [r for r in sent if r["outcome"] in PAID_OUTCOMES]
    retries = sum(r["outcome"] == "retry" or (r["outcome"] == "malformed_response" and bool(r.get("retried")))
                  for r in sent)
    return {"http_requests": len(sent), "answered": sum(r["outcome"] == "ok" for r in sent), "retries": retries,
            "errors": errors, "cache_hits": sum(r["outcome"] == "cache_hit" for r in records),
            "budget_refused": sum(r["outcome"] == "budget_refused" for r in records),
            "input_tokens": sum(r.get("input_tokens") or 0 for r in paid),
            "output_tokens": sum(r.get("output_tokens") or 0 for r in paid)}
