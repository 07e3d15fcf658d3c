"""A persistent prompt-keyed response cache in SQLite: a rerun or a resumed loop never pays twice.

The key is the SHA-256 of the provider, endpoint URL (without its query), model,
request parameters and the full prompt, so a changed prompt (other examples, template or sentences) simply
misses. Only successful responses are stored; credentials never enter a key or
a row. (spacy-llm's ``spacy.BatchCache.v1`` is not used: it keys docs by an
order-insensitive sum of token ids, so different sentences collide, and it
never writes its last partial batch.)
"""
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, model TEXT, text TEXT NOT NULL, usage TEXT, request_id TEXT, created REAL)"""


def cache_key(provider: str, model: str, params: Dict[str, Any], prompt: str, endpoint: str = "",
              replicate: Optional[int] = None) -> str:
    """The SHA-256 hex digest identifying one request's content (and the server it goes to, query removed).

    ``replicate``: the k-th asking of the same prompt on purpose (``annotator-eval`` asks k times); None, the
    loop's case, keeps the key of a plain request.
    """
    content: Dict[str, Any] = {"provider": provider, "endpoint": endpoint.split("?")[0], "model": model,
                               "params": params, "prompt": prompt}
    if replicate is not None:
        content["replicate"] = replicate
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class PromptCache:
    """Thread-safe get/put of response texts by :func:`cache_key` (one SQLite file, WAL mode)."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
            self._db.commit()

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        """``{"text", "usage", "request_id"}`` for ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT text, usage, request_id FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"text": row[0], "usage": json.loads(row[1] or "{}"), "request_id": row[2]}

    def put(self, key: str, model: str, text: str, usage: Dict[str, Any], request_id: Optional[str]) -> None:
        """Store a response (committed at once, so a killed process keeps it)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                             (key, model, text, json.dumps(usage), request_id, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
