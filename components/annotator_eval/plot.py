"""``annotator-eval``'s picture: entity F1 against cost per 1,000 sentences, one point per annotator and language."""
from pathlib import Path
from typing import Any, Dict, List

from ..figures import new_figure, save_figure


def plot_f1_against_cost(rows: List[Dict[str, Any]], path: Path) -> None:
    """Entity F1 over all runs (with its 95% interval) against cost per 1,000 sentences; unpriced rows at 0,
    hollow. SIMULATED annotators are named so in the legend."""
    import matplotlib.pyplot as plt

    fig, ax = new_figure()
    names = sorted({r["model"] for r in rows})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(names):
        mine = [r for r in rows if r["model"] == name]
        label = f"{name} (SIMULATED)" if name.startswith("sim-") else name
        for j, row in enumerate(mine):
            cost = (row.get("usage") or {}).get("cost_per_1000_sentences_usd")
            scores = row["entities"]["all_runs"]
            low, high = scores["f_ci"]
            x = 0.0 if cost is None else cost
            colour = colours[i % len(colours)]
            ax.errorbar([x], [100 * scores["f"]], yerr=[[100 * (scores["f"] - low)], [100 * (high - scores["f"])]],
                        fmt="o", color=colour, mfc="none" if cost is None else colour, capsize=3,
                        label=label if j == 0 else None)
            ax.annotate(row["lang"], (x, 100 * scores["f"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    save_figure(fig, ax, path, xlabel="cost per 1,000 sentences (USD; hollow: no price known)",
                ylabel="entity F1 against gold, all runs (%)",
                title="Choosing the annotator: entity F1 (95% CI) against cost")
