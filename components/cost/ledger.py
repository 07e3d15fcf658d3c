"""LLM spend from a usage ledger: each billed request once, at the table's price of the model that answered.

Billed: a request sent (cache miss) whose outcome the API charges for (``ok``, ``malformed_response``).
Cache hits, retries that failed, budget refusals cost nothing. A ledger left by an interrupted run may end
in a line cut short (skipped, and said) and is followed by the resumed run's records: requests answered
before the kill come back as cache hits, so nothing is counted twice; a record repeated verbatim (a copied
ledger concatenated with its source) is counted once.
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import InputError
from ..llm.models.ledger import PAID_OUTCOMES
from ..llm.pricing import Price, cost_usd, listed_name, require_price

Prices = Dict[str, Price]  # model name -> price given on the command line (wins over the table)


def read_ledger(path: Path) -> Tuple[List[Dict[str, Any]], List[str]]:
    """The records of a ledger and notes on what was skipped (a last line cut short); other broken lines raise."""
    lines = [(n, line) for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1) if line.strip()]
    records, notes = [], []
    for i, (number, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise InputError("broken JSON line before the end of the usage ledger", path, number) from None
            notes.append(f"{path}:{number}: last line cut short by an interruption, skipped (not billed: the API's "
                         "usage for it never reached the ledger)")
    return records, notes


def billed(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The records of requests the API charged for, each once."""
    seen, out = set(), []
    for r in records:
        if r.get("cache") == "miss" and r.get("outcome") in PAID_OUTCOMES:
            key = json.dumps(r, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(r)
    return out


def spend_by_round(records: List[Dict[str, Any]], prices: Optional[Prices] = None) -> Dict[int, Dict[str, Any]]:
    """Per round (the ledger's ``context.round``; -1 without one): requests, cache hits, tokens and USD."""
    out: Dict[int, Dict[str, Any]] = {}
    for r in records:
        k = int((r.get("context") or {}).get("round", -1))
        row = out.setdefault(k, {"requests": 0, "cache_hits": 0, "input_tokens": 0, "output_tokens": 0,
                                 "cost_usd": 0.0, "cached_cost_usd": 0.0, "models": []})
        if r.get("outcome") == "cache_hit":  # free now; what it cost when it was asked, for comparisons
            row["cache_hits"] += 1
            model = str(r.get("model"))
            row["cached_cost_usd"] += cost_usd(require_price(model, _override(prices, model)),
                                               int(r.get("input_tokens") or 0), int(r.get("output_tokens") or 0))
    for r in billed(records):
        k = int((r.get("context") or {}).get("round", -1))
        row = out[k]
        model = str(r.get("model"))
        price = require_price(model, _override(prices, model))
        tokens_in, tokens_out = int(r.get("input_tokens") or 0), int(r.get("output_tokens") or 0)
        row["requests"] += 1
        row["input_tokens"] += tokens_in
        row["output_tokens"] += tokens_out
        row["cost_usd"] += cost_usd(price, tokens_in, tokens_out)
        if model not in row["models"]:
            row["models"].append(model)
    return dict(sorted(out.items()))


def _override(prices: Optional[Prices], model: str) -> Optional[Price]:
    """A ``--price`` given for ``model``, matched as the price table matches (prefix, ``sim-``)."""
    name = listed_name(model, prices) if prices else None
    return prices[name] if prices and name else None
