"""A run's LLM budget (USD and/or tokens): requests are refused, cleanly, once it would be exceeded.

Before a request is sent its cost is estimated and reserved; when the answer
arrives the reservation is replaced by the cost the API's ``usage`` reports.
Requests in flight therefore never push the spend past the budget (up to the
estimate's accuracy), and what earlier processes spent (read from the run's
ledger) counts too, so a resumed run keeps to the same budget. A reply the API
billed but whose body could not be read (``malformed_response``) counts as spent.
"""
import threading
from typing import Any, Dict, Iterable, Optional

from ..pricing import Price, cost_usd
from .ledger import PAID_OUTCOMES


class Budget:
    """Tracks spend against ``max_usd`` and ``max_tokens`` (None: unlimited)."""

    def __init__(self, max_usd: Optional[float] = None, max_tokens: Optional[int] = None,
                 price: Optional[Price] = None) -> None:
        if max_usd is not None and price is None:
            raise ValueError("a budget in USD needs the model's price: add it to prices.csv or set `price_per_1k`")
        self.max_usd, self.max_tokens, self.price = max_usd, max_tokens, price
        self.spent_usd = 0.0
        self.spent_tokens = 0
        self._reserved_usd = 0.0
        self._reserved_tokens = 0
        self._changed = threading.Condition()
        self._in_flight = 0
        self.exhausted = False

    def add_past(self, records: Iterable[Dict[str, Any]]) -> None:
        """Count what earlier requests (ledger records the API billed) spent; a refusal there means spent."""
        for r in records:
            self.add_past_record(r)

    def add_past_record(self, r: Dict[str, Any]) -> None:
        """:meth:`add_past` for one record (as a ledger reads its file: ``UsageLedger(path, past=...)``)."""
        if r.get("outcome") in PAID_OUTCOMES and r.get("cache") == "miss":
            self._spend(int(r.get("input_tokens") or 0), int(r.get("output_tokens") or 0))
        elif r.get("outcome") == "budget_refused" and (r.get("budget_max_tokens"), r.get("budget_max_usd")) == (
                self.max_tokens, self.max_usd):
            self.exhausted = True  # refused under these same limits: spent (a raised budget starts again)

    def _cost(self, input_tokens: int, output_tokens: int) -> float:
        return cost_usd(self.price, input_tokens, output_tokens) if self.price else 0.0

    def _spend(self, input_tokens: int, output_tokens: int) -> None:
        self.spent_tokens += input_tokens + output_tokens
        self.spent_usd += self._cost(input_tokens, output_tokens)

    def reserve(self, input_tokens: int, output_tokens: int) -> bool:
        """Reserve an estimated request; False (and ``exhausted``) when it cannot fit the budget.

        While other requests are in flight their reservations (worst-case estimates) may be what is in
        the way: then this waits for them to settle and tries again. It refuses only when the actual
        spend plus this request's estimate is over the budget with nothing else in flight.
        """
        tokens, usd = input_tokens + output_tokens, self._cost(input_tokens, output_tokens)
        with self._changed:
            while True:
                if not self._over(tokens, usd, self._reserved_tokens, self._reserved_usd):
                    self._reserved_tokens += tokens
                    self._reserved_usd += usd
                    self._in_flight += 1
                    return True
                if self._in_flight == 0 or self._over(tokens, usd, 0, 0.0):
                    self.exhausted = True
                    return False
                self._changed.wait()

    def _over(self, tokens: int, usd: float, reserved_tokens: int, reserved_usd: float) -> bool:
        over_tokens = self.max_tokens is not None and self.spent_tokens + reserved_tokens + tokens > self.max_tokens
        over_usd = self.max_usd is not None and self.spent_usd + reserved_usd + usd > self.max_usd
        return over_tokens or over_usd

    def settle(self, estimated: Dict[str, int], actual: Optional[Dict[str, int]]) -> None:
        """Release a reservation and count the actual usage, over all tries (None: nothing was billed)."""
        with self._changed:
            self._reserved_tokens -= estimated["input_tokens"] + estimated["output_tokens"]
            self._reserved_usd -= self._cost(estimated["input_tokens"], estimated["output_tokens"])
            self._in_flight -= 1
            if actual:
                self._spend(actual["input_tokens"], actual["output_tokens"])
            self._changed.notify_all()

    @property
    def spent(self) -> bool:
        """Whether no more requests will be sent: the limit is reached, or a request was refused under it."""
        return self.exhausted or (self.max_usd is not None and self.spent_usd >= self.max_usd) or (
            self.max_tokens is not None and self.spent_tokens >= self.max_tokens)

    def describe(self) -> Dict[str, Any]:
        """Limits and spend, for logs and metrics."""
        return {"max_usd": self.max_usd, "max_tokens": self.max_tokens, "spent_usd": round(self.spent_usd, 6),
                "spent_tokens": self.spent_tokens, "exhausted": self.exhausted}
