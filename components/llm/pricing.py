"""Prices of LLM tokens (USD per 1,000), from the package's dated ``resources/prices.csv`` or the config.

The table (see its header) lists vendors' list prices with the date and source of each row. A model is
matched by its name or the longest listed name it starts with; a SIMULATED model ``sim-<name>`` is priced
as ``<name>`` (what the real one would have cost). :func:`require_price` is the strict form: an unlisted
model is an error naming it and the listed ones.
"""
import csv
import functools
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..package_data import read_text

Price = Tuple[float, float]  # (input, output) USD per 1K tokens
PRICES = "resources/prices.csv"
SIMULATED_PREFIX = "sim-"


@functools.lru_cache(maxsize=1)
def price_rows() -> Tuple[Dict[str, str], ...]:
    """The packaged table's rows (``model``, prices, ``as_of``, ``source``), comment lines skipped."""
    lines = [line for line in read_text(PRICES).splitlines() if line.strip() and not line.startswith("#")]
    return tuple(dict(row) for row in csv.DictReader(lines))


def price_table() -> Dict[str, Price]:
    """The packaged price list, by model name."""
    return {row["model"]: (float(row["input_usd_per_1k"]), float(row["output_usd_per_1k"])) for row in price_rows()}


def listed_name(model: str, names: Optional[Iterable[str]] = None) -> Optional[str]:
    """The entry for ``model`` among ``names`` (default the table's): its own name, the longest name it starts
    with (``<name>-...``), or the entry of the model it simulates (``sim-<name>``)."""
    names = list(price_table() if names is None else names)
    matches = [name for name in names if model == name or model.startswith(name + "-")]
    if matches:
        return max(matches, key=len)
    if model.startswith(SIMULATED_PREFIX):
        return listed_name(model[len(SIMULATED_PREFIX):], names)
    return None


def price_for(model: str, override: Optional[Sequence[float]] = None) -> Optional[Price]:
    """``override`` if given, else the listed price of ``model`` (see :func:`listed_name`), else None."""
    if override is not None:
        return (float(override[0]), float(override[1]))
    name = listed_name(model)
    return price_table()[name] if name else None


def require_price(model: str, override: Optional[Price] = None) -> Price:
    """:func:`price_for`, or a ValueError naming the model and what the table lists."""
    price = price_for(model, override)
    if price is None:
        raise ValueError(f"no price for model '{model}' in {PRICES} (listed: {', '.join(listed_models())}); add a "
                         f"row, or give one with --price {model}=<input>,<output> (USD per 1,000 tokens; 0,0 for a "
                         "model you serve yourself)")
    return price


def listed_models() -> List[str]:
    """The models the table lists."""
    return [row["model"] for row in price_rows()]


def table_info() -> Dict[str, object]:
    """Where the prices come from: the table's dates and every row (for metrics files)."""
    return {"table": f"spacy_llm_loop/{PRICES}", "as_of": sorted({row["as_of"] for row in price_rows()}),
            "rows": [dict(row) for row in price_rows()]}


def cost_usd(price: Price, input_tokens: int, output_tokens: int) -> float:
    """What ``input_tokens`` and ``output_tokens`` cost at ``price``."""
    return (input_tokens * price[0] + output_tokens * price[1]) / 1000.0
