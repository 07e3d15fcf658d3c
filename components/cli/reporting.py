"""Reading results: ``evaluate`` (any pipeline on gold data), ``report`` (every run's curves) and ``cost`` (the
LLM's labels against people's)."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from wasabi import msg

from ._util import Arg, Opt, app, exits_on_error, number_range, setup


@app.command("evaluate")
def evaluate_cli(
    model: str = Arg(..., help="Pipeline path or package name"),
    data: Path = Arg(..., help="Gold data: .spacy, .jsonl or CoNLL .txt"),
    output: Optional[Path] = Opt(None, help="Write the metrics here as JSON"),
    gpu_id: int = Opt(-1, help="GPU id, -1 for CPU"),
) -> None:
    """Evaluate any trained pipeline: entity P/R/F overall and per type."""
    from ..evaluation.evaluate import evaluate_model, format_table
    from ..fileio import write_json

    setup()
    with exits_on_error():
        result = evaluate_model(model, data, gpu_id)
    if output:
        write_json(output, result)
    print(format_table(result, f"{model} on {data}"))


@app.command("report")
def report_cli(
    runs_dir: Path = Opt(Path("runs"), help="Run folders"),
    baselines_dir: Path = Opt(Path("baselines"), help="Full-data baselines"),
    output: Path = Opt(Path("reports"), help="Where report.md and the plots go"),
    metrics_dir: Path = Opt(Path("metrics"), help="Where leakage.json and cost.json are (summarised)"),
) -> None:
    """Markdown report and learning curves for every run present, with the leakage and cost steps' summaries."""
    from ..reporting.report import write_report

    setup()
    written = write_report(runs_dir, baselines_dir, output, metrics_dir)
    for path in written:
        msg.good(f"wrote {path}")


def parse_prices(items: List[str]) -> Dict[str, Tuple[float, float]]:
    """``["model=0.01,0.03"]`` -> ``{"model": (0.01, 0.03)}``."""
    out = {}
    for item in items:
        model, _, price = item.partition("=")
        if not model or not price:
            raise ValueError(f"--price: expected <model>=<input>,<output> USD per 1,000 tokens, got '{item}'")
        out[model] = number_range(price, "price")
    return out


@app.command("cost")
def cost_cli(
    runs_dir: Path = Opt(Path("runs"), help="Run folders (every LLM-annotated run is costed)"),
    corpus_root: Path = Opt(Path("corpus"), help="Converted corpora (<lang>/train.spacy: words per sentence)"),
    gold_runs_dir: Optional[Path] = Opt(None, help="Gold-oracle runs for the human route (default runs-dir)"),
    output: Path = Opt(Path("metrics/cost.json"), help="Write the report here (JSON)"),
    markdown: Optional[Path] = Opt(Path("reports/cost.md"), help="And here as Markdown"),
    plot: Optional[Path] = Opt(Path("reports/cost.png"), help="And entity F1 against cost here (PNG)"),
    price: List[str] = Opt([], help="<model>=<input>,<output> USD per 1,000 tokens (repeat); wins over the "
                                    "packaged table"),
    words_per_hour: str = Opt("2000,5500", help="People: words labelled per hour, <low>,<high>"),
    hourly_usd: str = Opt("5,20", help="People: USD per hour, <low>,<high>"),
    annotators_per_item: str = Opt("1,3", help="People: annotators per sentence, <low>,<high>"),
    adjudication: str = Opt("0,0.25", help="People: adjudication overhead (share of time), <low>,<high>"),
) -> None:
    """What the LLM labels cost (usage ledger x dated prices) against people for the same sentences; F1 per $."""
    from ..cost.human import HumanCostModel
    from ..cost.report import cost_report, write_cost

    setup()
    with exits_on_error():
        model = HumanCostModel(number_range(words_per_hour, "words-per-hour"), number_range(hourly_usd, "hourly-usd"),
                               number_range(annotators_per_item, "annotators-per-item"),
                               number_range(adjudication, "adjudication"))
        model.check()
        report = cost_report(runs_dir, corpus_root, parse_prices(price), model, gold_runs_dir)
        write_cost(report, output, markdown, plot)
    for run in report["runs"]:
        t = run["totals"]
        savings = t["savings"]
        msg.good(f"{run['run']}: LLM ${t['llm_usd']:.2f} for {t['requested']} sentences; people "
                 f"${t['human_usd']['low']:.2f}-${t['human_usd']['high']:.2f}; savings "
                 + (f"{savings['low']:.1f}x-{savings['high']:.1f}x" if savings["low"] else "n/a"))
    msg.good(f"wrote {output}" + (f", {markdown}" if markdown else "") + (f", {plot}" if plot else ""))
