"""Prices of LLM tokens (USD per 1,000), from the package's ``resources/prices.csv`` or the config."""
import csv
from importlib import resources
from typing import Dict, Optional, Tuple

Price = Tuple[float, float]  # (input, output) USD per 1K tokens


def price_table() -> Dict[str, Price]:
    """The packaged price list, by model name."""
    text = resources.files("spacy_llm_loop").joinpath("resources/prices.csv").read_text(encoding="utf-8")
    return {row["model"]: (float(row["input_usd_per_1k"]), float(row["output_usd_per_1k"]))
            for row in csv.DictReader(text.splitlines())}


def price_for(model: str, override: Optional[Price] = None) -> Optional[Price]:
    """``override`` if given, else the listed price of ``model`` (or of its longest listed prefix), else None."""
    if override is not None:
        return (float(override[0]), float(override[1]))
    table = price_table()
    matches = [name for name in table if model == name or model.startswith(name + "-")]
    return table[max(matches, key=len)] if matches else None


def cost_usd(price: Price, input_tokens: int, output_tokens: int) -> float:
    """What ``input_tokens`` and ``output_tokens`` cost at ``price``."""
    return (input_tokens * price[0] + output_tokens * price[1]) / 1000.0
