"""Client-side limits on requests and tokens per minute (moving windows from the ``limits`` library)."""
import threading
import time
from typing import List, Optional, Tuple

from limits import RateLimitItem, RateLimitItemPerMinute, storage, strategies


class RateLimiter:
    """Blocks until one more request of ``tokens`` tokens fits both per-minute windows (None: no limit)."""

    def __init__(self, requests_per_minute: Optional[int] = None, tokens_per_minute: Optional[int] = None) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._rpm = RateLimitItemPerMinute(requests_per_minute) if requests_per_minute else None
        self._tpm = RateLimitItemPerMinute(tokens_per_minute) if tokens_per_minute else None
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self, tokens: int) -> None:
        """Wait for room for one request of ``tokens`` tokens, then take it."""
        if self._tpm is not None and tokens > self._tpm.amount:
            raise ValueError(f"a request of about {tokens} tokens can never fit tokens_per_minute={self._tpm.amount}")
        while True:
            with self._lock:
                wanted = self._wanted(tokens)
                if all(self._limiter.test(item, "llm", cost=cost) for item, cost in wanted):
                    for item, cost in wanted:
                        self._limiter.hit(item, "llm", cost=cost)
                    return
                reset = min(self._limiter.get_window_stats(item, "llm").reset_time for item, cost in wanted
                            if not self._limiter.test(item, "llm", cost=cost))
            pause = min(max(reset - time.time(), 0.05), 5.0)
            self.waited += pause
            time.sleep(pause)

    def _wanted(self, tokens: int) -> List[Tuple[RateLimitItem, int]]:
        wanted: List[Tuple[RateLimitItem, int]] = []
        if self._rpm is not None:
            wanted.append((self._rpm, 1))
        if self._tpm is not None:
            wanted.append((self._tpm, max(tokens, 1)))
        return wanted
