"""``cost``: every LLM-annotated run's cost, against people, as JSON, Markdown and a picture."""
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..figures import new_figure, save_figure
from ..fileio import write_json, write_text
from ..llm.pricing import table_info
from .human import DEFAULTS, HumanCostModel
from .ledger import Prices
from .run_cost import PAPER_SAVINGS, run_cost


def llm_runs(runs_dir: Path) -> List[Path]:
    """Run folders whose annotator is not the gold oracle."""
    import srsly

    return [path.parent for path in sorted(Path(runs_dir).glob("*/loop.json"))
            if srsly.read_json(path).get("annotator") != "gold"]


def cost_report(runs_dir: Path, corpus_root: Path, prices: Optional[Prices] = None,
                model: HumanCostModel = DEFAULTS, gold_runs_dir: Optional[Path] = None) -> Dict[str, Any]:
    """The cost of every LLM-annotated run under ``runs_dir``, with the prices and assumptions used.

    ``gold_runs_dir``: where the gold-oracle runs of the human route are (default ``runs_dir``).
    """
    runs = [run_cost(path, corpus_root, prices, model, gold_runs_dir) for path in llm_runs(runs_dir)]
    return {"runs_dir": str(runs_dir), "prices": table_info(), "price_overrides": prices or {},
            "human_model": model.to_dict(), "paper_savings": PAPER_SAVINGS,
            "definitions": DEFINITIONS, "runs": runs}


DEFINITIONS = {
    "llm_usd": "tokens the API billed (ledger: cache misses with outcome ok or malformed_response) times the "
               "price table's rate of the model that answered; cache hits free; a SIMULATED model is priced as "
               "the model it simulates",
    "human_usd": "the same sentences' words / words_per_hour x annotators_per_item x (1 + adjudication) x "
                 "hourly_usd; low and high take the cheap and dear end of every assumption",
    "savings": "human_usd / llm_usd for the same sentences: those the round asked the LLM about (a budget stop "
               "leaves some selected ones unasked); answers that came from the cache count at what they cost when "
               "asked (low: cheapest people; high: dearest)",
    "review": "a person's hours for the sentences reviewed (timed from Prodigy's _timestamp where answers carry "
              "it, the gap since the session's previous answer up to 10 minutes; else estimated from their words: "
              "review/timing.py) at the "
              "human model's hourly rates (low hours at the low rate, central at the midpoint, high at the high); "
              "savings with review: human_usd / (llm_usd + review)",
    "f1_gain_per_usd": "test entity F1 points gained in the round per LLM dollar spent in it",
    "usd_per_f1_point": "dollars spent over the query rounds per test F1 point gained since the seed round: the "
                        "LLM route with its own F1, the human route with the gold-oracle run's F1 (same language, "
                        "strategy, seed), when present",
}


def _usd(value: Optional[float]) -> str:
    return "–" if value is None else (f"${value:.2f}" if value >= 0.1 else f"${value:.4f}")


def _range(values: Dict[str, Optional[float]], fmt: str = "usd") -> str:
    low, high = values.get("low"), values.get("high")
    if low is None or high is None:
        return "–"
    return f"{_usd(low)}–{_usd(high)}" if fmt == "usd" else f"{low:.0f}x–{high:.0f}x"


def cost_markdown(report: Dict[str, Any]) -> str:
    """The report as Markdown: one table per run, its totals, then the assumptions."""
    lines = ["# Cost: LLM labels against people", "",
             f"Prices: `{report['prices']['table']}` (as of {', '.join(report['prices']['as_of'])}). The paper "
             f"reports savings of at least {report['paper_savings']}x; its human-cost assumption is unpublished.",
             ""]
    if not report["runs"]:
        lines.append(f"No LLM-annotated runs in `{report['runs_dir']}`.")
    for run in report["runs"]:
        simulated = " (SIMULATED annotator: the spend is what the real model would have been billed for these "\
                    "prompts)" if run["annotator"].startswith("sim-") else ""
        lines += [f"## {run['run']}{simulated}", "",
                  "| round | sentences asked / labelled | words | entities | LLM cost | per sentence | per entity | "
                  "people, same sentences | savings | test F1 | gold-oracle F1 | F1 gained per $ |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in run["rounds"]:
            gold = "–" if r.get("gold_route_f1") is None else f"{r['gold_route_f1']:.2f}"
            if "llm" not in r:
                lines.append(f"| 0 (gold seed) | – | – | – | – | – | – | – | – | {_f1(r['test_f1'])} | {gold} | – |")
                continue
            per_usd = "–" if r["f1_gain_per_usd"] is None else f"{r['f1_gain_per_usd']:+.2f}"
            lines.append(f"| {r['round']} | {r['requested']} / {r['received']} | {r['words']} | {r['entities']} | "
                         f"{_usd(r['llm']['cost_usd'])} | {_usd(r['llm_usd_per_sentence'])} | "
                         f"{_usd(r['llm_usd_per_entity'])} | {_range(r['human_usd'])} | "
                         f"{_range(r['savings'], 'x')} | {_f1(r['test_f1'])} | {gold} | {per_usd} |")
        t = run["totals"]
        lines += ["", f"- total: LLM {_usd(t['llm_usd'])}; people {_range(t['human_usd'])} "
                      f"(central {_usd(t['human_usd']['central'])}); savings {_range(t['savings'], 'x')} "
                      f"(paper: at least {t['paper_savings']}x)"]
        if t.get("review"):
            review = t["review"]
            who = "a SIMULATED reviewer (gold labels)" if review["simulated"] else "a person"
            timed = review.get("answers_timed", 0)
            answered = review.get("answered", review["reviewed"])
            how = ("estimated" if not timed else "timed from Prodigy's timestamps" if timed >= answered else
                   f"timed from Prodigy's timestamps for {timed} of {answered} answers, the rest estimated")
            lines.append(f"- review by {who}: {review['reviewed']} sentences, {review['changed']} changed; "
                         f"{review['hours']['central']:.2f} hours ({how}, {review['hours']['low']:.2f}-"
                         f"{review['hours']['high']:.2f}) = {_range(review['usd'])}; LLM plus review "
                         f"{_range(review['llm_plus_review_usd'])}; savings with review "
                         f"{_range(review['savings_with_review'], 'x')}")
        if run.get("audit"):
            audit = run["audit"]
            lines.append(f"- of which the audit (the annotator labelling {audit['sentences']} gold seed sentences "
                         f"before round 1): {_usd(audit['llm']['cost_usd'])}")
        if t.get("llm_usd_per_f1_point") is not None:
            human = t.get("human_usd_per_f1_point")
            lines.append(f"- per test F1 point gained since the seed round: LLM route {_usd(t['llm_usd_per_f1_point'])}"
                         f" ({t['llm_f1_gain']:+.2f} F1)" + (f"; human route {_range(human)} "
                                                             f"({t['human_f1_gain']:+.2f} F1, gold-oracle run)"
                                                             if human else ""))
        lines += [f"- {note}" for note in run["notes"]] + [""]
    lines += ["## Assumptions for the human side", ""]
    model = report["human_model"]
    for key, text in model["sources"].items():
        lines.append(f"- **{key}** {tuple(model[key])}: {text}")
    lines += ["", "## Definitions", ""] + [f"- **{k}**: {v}" for k, v in report["definitions"].items()]
    return "\n".join(lines) + "\n"


def _f1(value: Optional[float]) -> str:
    return "n/a (no test data)" if value is None else f"{value:.2f}"


def plot_cost(report: Dict[str, Any], path: Path) -> None:
    """Test F1 against cumulative dollars, per run: the LLM route, and the human route (central cost) with the
    gold-oracle run's F1 where present; log dollars."""
    fig, ax = new_figure()
    spent_any = False
    for i, run in enumerate(report["runs"]):
        colour = f"C{i % 10}"
        query = [r for r in run["rounds"] if "llm" in r and r["test_f1"] is not None]
        spent, human, xs, hs = 0.0, 0.0, [], []
        for r in query:
            spent += r["llm"]["cost_usd"]
            human += r["human_usd"]["central"]
            xs.append(spent)
            hs.append(human)
        spent_any = spent_any or any(x > 0 for x in xs)
        ax.plot(xs, [r["test_f1"] for r in query], marker="o", color=colour, label=f"{run['run']}: LLM")
        if all(r.get("gold_route_f1") is not None for r in query):
            ax.plot(hs, [r["gold_route_f1"] for r in query], marker="s", linestyle="--", color=colour,
                    label=f"{run['run']}: people (central cost), gold-oracle F1")
    if spent_any:
        ax.set_xscale("log")
    save_figure(fig, ax, path, xlabel="cumulative annotation cost (USD" + (", log scale)" if spent_any else ")"),
                ylabel="test entity F1 (%)", title="Entity F1 against annotation cost", legend_size=6)


def write_cost(report: Dict[str, Any], output: Path, markdown: Optional[Path] = None,
               plot: Optional[Path] = None) -> None:
    """Write the report as JSON, Markdown and PNG."""
    write_json(output, report)
    if plot is not None:
        plot_cost(report, plot)
    if markdown is not None:
        text = cost_markdown(report)
        if plot is not None:
            import os

            text += f"\n![entity F1 against cost]({os.path.relpath(plot, Path(markdown).parent)})\n"
        write_text(markdown, text)
