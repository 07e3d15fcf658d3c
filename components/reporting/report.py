"""``report``: learning curves (PNG, matplotlib) and a Markdown summary of every run present."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..data.corpus import LANGUAGES
from ..figures import new_figure, save_figure
from ..fileio import write_text
from .collect import Curve, collect_full_data, collect_runs, published_f1, review_quality, taught_quality


def plot_learning_curves(lang: str, curves: Sequence[Curve], full: Sequence[float], path: Path) -> None:
    """Entity F1 against labelled sentences, mean and spread over seeds, with the reference lines."""
    fig, ax = new_figure()
    for curve in (c for c in curves if c.has_test):
        stats = np.array([curve.stats(k)[:3] for k in curve.rounds()])
        ax.plot(stats[:, 0], stats[:, 1], marker="o", label=f"{curve.label}, {len(curve.seeds)} seed(s)")
        ax.fill_between(stats[:, 0], stats[:, 1] - stats[:, 2], stats[:, 1] + stats[:, 2], alpha=0.2)
    if full:
        ax.axhline(float(np.mean(full)), color="black", linestyle="--",
                   label=f"full train data + gold dev, gold ({np.mean(full):.1f})")
    sota = published_f1(lang)
    if sota is not None:
        ax.axhline(sota, color="grey", linestyle=":", label=f"AfroXLMR-large, published ({sota:.1f})")
    save_figure(fig, ax, path, xlabel="labelled sentences (learner train + learner dev)",
                ylabel="test entity F1 (%)",
                title=f"{'MasakhaNER 2.0 ' if lang in LANGUAGES else ''}{lang}: active learning")


def markdown_for_lang(lang: str, curves: Sequence[Curve], full: Sequence[float], png: Optional[str]) -> List[str]:
    """The report's section for one language (``png``: its learning curve; None without test data)."""
    lines = [f"## {lang}", "", f"![learning curve]({png})" if png else "No gold test data: no learning curve.", ""]
    if full:
        lines.append(f"- Full train data, gold labels (the gold dev split for early stopping): **{np.mean(full):.2f}** "
                     f"test entity F1 ({len(full)} seed(s)).")
    sota = published_f1(lang)
    if sota is not None:
        lines.append(f"- AfroXLMR-large, published (MasakhaNER 2.0 authors): {sota:.1f}.")
    lines += ["", "| annotator | strategy | learner | round | labelled | test entity F1 (mean ± sd) | seeds | "
              "labels received: token accuracy | labels: entity F1 | dropped (why) | taught: entity F1 | "
              "taught: tokens missing | reviewed (changed) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for curve in curves:
        for k in curve.rounds():
            n, mean, sd, n_seeds = curve.stats(k)
            f1 = f"{mean:.2f} ± {sd:.2f}" if curve.has_test else "not available (no test data)"
            taught = taught_quality(curve, k)
            taught_cells = "- | -" if taught is None else f"{taught['ents_f']:.1f} | {taught['missing']:.1f}%"
            review = review_quality(curve, k)
            review_cell = "-" if review is None else f"{review['reviewed']:.0f} ({review['changed']:.0f})"
            lines.append(f"| {curve.annotator} | {curve.strategy} | {curve.learner} | {k} | {n:.0f} | "
                         f"{f1} | {n_seeds} | {label_cells(curve.label_quality(k))} | {taught_cells} | "
                         f"{review_cell} |")
    lines += audit_section(curves)
    if any(curve.annotator.startswith("sim-") for curve in curves):
        lines += pooled_caveat(lang)
    for curve in curves:
        if curve.seed_source == "annotator":
            lines += ["", f"The seed of {curve.label} was labelled by the annotator (no gold seed was given): round 0 "
                          "is annotated, not gold, and the annotator worked without examples."]
    if any(curve.annotator != "gold" for curve in curves):
        lines += ["", "Labels received: what the annotator returned for the sentences the round selected, scored "
                      "against the dataset's gold labels (token accuracy including O; entity F1, exact span and type; "
                      "n/a for a pool without gold), and the share of those sentences dropped (an answer that was "
                      "not one valid tag per token). "
                      "An annotator whose name starts with `sim-` is SIMULATED: gold labels with a recorded LLM's "
                      "measured errors, not that LLM's answers. Taught: what the learner trained on from those "
                      "answers after the run's label policy (`trust`: the answers as they are), entity F1 against "
                      "gold outside the tokens the policy made missing, and the share of tokens made missing "
                      "(a reviewed sentence is gold, and left out). Reviewed (changed): the sentences a person "
                      "reviewed in the round (accepted answers) and how many of them the reviewer changed "
                      "(docs/review.md); a SIMULATED reviewer answers with the gold labels."]
    return lines + [""]


def pooled_caveat(lang: str, profile: str = "gpt-4-turbo") -> List[str]:
    """For a language without recordings, the SIMULATED annotator uses the profile's pooled tables: how far off such
    tables were on each recorded language when it was left out (the profile's own leave-one-language-out rows)."""
    from ..simulate.profile import load_profile

    data = load_profile(profile)
    if lang in data["languages"]:
        return []
    rows = (data.get("fidelity") or {}).get("leave_one_out") or []
    errors = ", ".join(f"{row['lang']} {100 * (row['simulated']['entity_f1'] - row['recorded']['entity_f1']):+.1f} "
                       f"(kappa {row['simulated']['kappa'] - row['recorded']['kappa']:+.3f})" for row in rows)
    return ["", f"The SIMULATED annotator has no recordings of {lang}: it uses the `{profile}` profile's pooled "
                "tables. Left out of the fit, the recorded languages came out this far from their real answers "
                f"(simulated - recorded entity F1, points): {errors or 'not measured'}. Read {lang}'s LLM-label "
                "figures with that error in mind."]


def audit_section(curves: Sequence[Curve]) -> List[str]:
    """Per annotator (and label policy): the audit on the gold seed, mean over seeds, and the types distrusted."""
    lines: List[str] = []
    for curve in (c for c in curves if c.audits):
        audits = curve.audits
        lines += ["", f"Annotator audit of {curve.annotator} on the gold seed ({len(audits)} seed(s), "
                      f"{np.mean([a['sentences'] for a in audits]):.0f} sentences each): entity F1 "
                      f"{_mean_pct([a['ents_f'] for a in audits])}; types whose precision the audit shows below "
                      f"the label policy's threshold (distrusted only by a policy that distrusts by audit): "
                      f"{_types(audits)}.", "",
                  "| type | precision | recall | gold entities |", "|---|---|---|---|"]
        for label in audits[0]["per_type"]:
            rows = [a["per_type"][label] for a in audits if label in a["per_type"]]
            lines.append(f"| {label} | {_mean_pct([r['p'] for r in rows])} | {_mean_pct([r['r'] for r in rows])} | "
                         f"{np.mean([r['n_gold'] for r in rows]):.0f} |")
    return lines


def _types(audits: Sequence[Dict[str, Any]]) -> str:
    found = sorted({t for a in audits for t in (a.get("unreliable") or [])})
    return ", ".join(found) or "none"


def _mean_pct(values: Sequence[Optional[float]]) -> str:
    kept = [v for v in values if v is not None]
    return f"{100 * np.mean(kept):.1f}" if kept else "-"


def label_cells(quality: Optional[Dict[str, Any]]) -> str:
    """The three label-quality cells of a round (``-`` for the seed round, which is gold)."""
    if quality is None:
        return "- | - | -"
    reasons = ", ".join(f"{name} {count}" for name, count in quality["reasons"].items())
    number = lambda value: "n/a" if value is None else f"{value:.1f}"  # noqa: E731
    return (f"{number(quality['token_accuracy'])} | {number(quality['ents_f'])} | {quality['dropped']:.1f}%"
            + (f" ({reasons})" if reasons else ""))


def step_sections(metrics_dir: Optional[Path]) -> List[str]:
    """Short sections for the leakage and cost steps, when their metrics exist (details in their own reports)."""
    import srsly

    lines: List[str] = []
    if metrics_dir is None:
        return lines
    leakage, cost = Path(metrics_dir) / "leakage.json", Path(metrics_dir) / "cost.json"
    if leakage.exists():
        data = srsly.read_json(leakage)
        verdict = "no test sentence in any run's training data or few-shot examples" if data["ok"] else \
            f"**{len(data['errors'])} test sentences in training data or few-shot examples**"
        dupes = "; ".join(f"{lang} train-test {d['pairs']['train|test']['exact']['pairs']} exact / "
                          f"{d['pairs']['train|test']['near']['pairs']} near" for lang, d in data["datasets"].items())
        lines += ["## Data leakage", "", f"- {len(data['runs'])} runs checked: {verdict} (`leakage.md`).",
                  f"- The dataset's own duplicates: {dupes or '-'}.", ""]
    if cost.exists():
        data = srsly.read_json(cost)
        lines += ["## Cost", ""]
        for run in data["runs"]:
            t = run["totals"]
            savings = t["savings"]
            ratio = f"{savings['low']:.1f}x-{savings['high']:.1f}x" if savings.get("low") else "n/a"
            lines.append(f"- {run['run']}: LLM ${t['llm_usd']:.2f} for {t['requested']} sentences; people "
                         f"${t['human_usd']['low']:.2f}-${t['human_usd']['high']:.2f}; savings {ratio} "
                         f"(the paper: at least {t['paper_savings']}x)")
        lines += ["", "Details, assumptions and F1 per dollar: `cost.md`.", ""]
    return lines


def write_report(runs_dir: Path, baselines_dir: Path, output: Path,
                 metrics_dir: Optional[Path] = None) -> List[Path]:
    """Write ``report.md`` and one ``learning_curve_<lang>.png`` per language; return the paths.

    ``metrics_dir``: where ``leakage.json`` and ``cost.json`` are, summarised when present."""
    curves = collect_runs(runs_dir)
    full = collect_full_data(baselines_dir)
    by_lang: Dict[str, List[Curve]] = {}
    for (lang, *_), curve in sorted(curves.items()):
        by_lang.setdefault(lang, []).append(curve)
    written: List[Path] = []
    lines = ["# Active-learning report", "",
             "Entity-level F1 (exact span and type) on each language's gold test split (MasakhaNER 2.0's, or the "
             "test data a corpus of one's own brought; without one, test figures are not available), "
             "against the number of labelled sentences. That count includes the sentences the learner holds out "
             "of its labelled set as its own dev data (early stopping, best model). Learners marked `seeddev` held "
             "out part of the gold seed only and trained on every annotated sentence; learners marked `oracledev` "
             "were given the dataset's gold dev split instead: free labels the count leaves out.", ""]
    if not by_lang and not full:
        lines.append(f"No runs found in `{runs_dir}` and no baselines in `{baselines_dir}`.")
    for lang in sorted(set(by_lang) | set(full)):
        png = output / f"learning_curve_{lang}.png"
        if full.get(lang) or any(curve.has_test for curve in by_lang.get(lang, [])):
            plot_learning_curves(lang, by_lang.get(lang, []), full.get(lang, []), png)
            written.append(png)
        lines += markdown_for_lang(lang, by_lang.get(lang, []), full.get(lang, []), png.name if png in written
                                   else None)
    lines += step_sections(metrics_dir)
    write_text(output / "report.md", "\n".join(lines))
    return [output / "report.md"] + written
