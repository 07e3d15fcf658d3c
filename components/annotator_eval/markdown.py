"""The ``annotator-eval`` report as Markdown: one table row per recorded file, then findings and definitions."""
from typing import Any, Dict, List, Optional

from ..data.iob import MASAKHANER_LABELS

HEADER = ("model", "lang", "records", "consistency % (recorded / missing as 0)", "paper", "Fleiss' kappa (excluded)",
          "paper", "entity F1, all runs [95% CI]", "entity F1, run 1 [95% CI]", "entity agreement between runs",
          "failed runs (recorded / missing as failures)", "tags outside schema", "malformed items", "notes")


def _num(value: Optional[float], fmt: str = ".2f") -> str:
    return "–" if value is None else format(value, fmt)


def _f1(scores: Dict[str, Any]) -> str:
    low, high = scores["f_ci"]
    return f"{scores['f']:.2f} [{low:.2f}, {high:.2f}]"


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _cells(row: Dict[str, Any]) -> List[str]:
    paper = row["paper"] or {}
    kappa, failures = row["kappa"], row["failures"]
    oos, bad = failures["out_of_schema"], failures["malformed_items"]
    shown = list(oos["tags"].items())[:5]
    tags = ", ".join(f"'{t}' ×{n}" for t, n in shown) + (" …" if len(oos["tags"]) > len(shown) else "")
    kinds = ", ".join(f"{k} ×{n}" for k, n in bad["kinds"].items())
    failed = failures["failed_runs"]
    return [row["model"], row["lang"], str(row["records"]),
            f"{row['consistency']:.2f} / {row['consistency_missing_as_failures']:.2f}",
            _num(paper.get("consistency")),
            f"{_num(kappa['kappa'], '.3f')} ({kappa['records_excluded']})",
            f"{_num(paper.get('kappa'), '.3f')} ({paper['excluded']:.0f})" if "excluded" in paper
            else _num(paper.get("kappa"), ".3f"),
            _f1(row["entities"]["all_runs"]), _f1(row["entities"]["first_run"]),
            f"pairwise F1 {_num(row['entity_agreement']['pairwise_entity_f1'])}, "
            f"unanimous {_pct(row['entity_agreement']['unanimous_entity_share'])}",
            f"{_pct(failed['rate_as_recorded'])} / {_pct(failed['rate_missing_as_failures'])}",
            f"{oos['elements']} in {oos['runs']} runs" + (f": {tags}" if tags else ""),
            f"{bad['elements']} in {bad['runs']} runs" + (f": {kinds}" if kinds else ""),
            "; ".join(row["notes"])]


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    def line(cells: List[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    return [line(header), line(["---"] * len(header))] + [line(r) for r in rows]


def format_markdown(result: Dict[str, Any]) -> str:
    """The report of :func:`.report.evaluate_recorded` as Markdown."""
    rows = result["rows"]
    boot = result["bootstrap"]
    lines = [f"# {result.get('title', 'Choosing the annotator: recorded LLM annotations')}", "",
             f"Source: `{result['recorded']}`; {result['expected_runs']} runs expected per record"
             + (f", {result['expected_records']} records per file" if result["expected_records"] else "")
             + f". Confidence intervals: {boot['method']} bootstrap over sentences, {boot['samples']} samples, "
               f"seed {boot['seed']}.", ""]
    lines += _table(list(HEADER), [_cells(r) for r in rows])
    lines += ["", "## Entity F1 per type (all runs) [95% CI]", ""]
    per_type = [[r["model"], r["lang"]] + [_f1(r["entities"]["all_runs"]["per_type"][label])
                                           for label in MASAKHANER_LABELS] for r in rows]
    lines += _table(["model", "lang", *MASAKHANER_LABELS], per_type)
    lines += ["", "## Findings", ""] + [f"- {text}" for text in result["findings"]]
    lines += ["", "## Definitions", ""] + [f"- **{k}**: {v}" for k, v in result["definitions"].items()]
    return "\n".join(lines) + "\n"


def _usage_cells(row: Dict[str, Any]) -> List[str]:
    usage, parser = row.get("usage") or {}, row.get("parser") or {}
    reasons = ", ".join(f"{k} ×{n}" for k, n in sorted(parser.get("drop_reasons", {}).items()))
    cost = usage.get("cost_per_1000_sentences_usd")
    latency = usage.get("request_latency_s_mean")
    return [row["model"] + (" (SIMULATED)" if row.get("simulated") else ""), row["lang"],
            f"{usage['input_tokens_per_sentence']:.0f} / {usage['output_tokens_per_sentence']:.0f}"
            if "input_tokens_per_sentence" in usage else "–",
            "–" if cost is None else f"${cost:.2f}",
            "–" if latency is None else f"{latency:.2f} s", f"{usage.get('seconds_per_sentence', 0):.3f} s",
            f"{_pct(parser.get('drop_rate'))}" + (f" ({reasons})" if reasons else ""),
            f"{_pct(parser.get('repair_rate'))} ({parser.get('repairs', 0)} repairs)"]


def format_live_markdown(result: Dict[str, Any]) -> str:
    """The report of :func:`.choose.evaluate_live` as Markdown: the recorded-style tables, usage, recommendation."""
    text = format_markdown({**result, "title": "Choosing the annotator: annotators asked through the loop's path"})
    header = ["annotator", "lang", "tokens in / out per sentence", "cost per 1,000 sentences",
              "latency per request", "wall-clock per sentence", "answers dropped (why)", "answers repaired"]
    lines = ["", f"## Usage and parsing ({result['sentences_per_lang']} sentences per language, {result['runs']} runs "
                 f"each, sample seed {result['seed']})", ""]
    lines += _table(header, [_usage_cells(r) for r in result["rows"]])
    rec = result["recommendation"]
    lines += ["", "## Recommendation", "", f"Rule: {rec['rule']}", ""]
    for lang, choice in rec["by_lang"].items():
        lines.append(f"- {lang}: **{choice['annotator']}** (decided by {choice['decided_by']}; entity F1 "
                     f"{choice['entity_f1']:.2f}, kappa {_num(choice['kappa'], '.3f')})")
    lines.append(f"- overall: **{rec['overall']}**")
    if rec.get("note"):
        lines += ["", rec["note"]]
    if result.get("plot"):
        lines += ["", f"![entity F1 against cost]({result['plot']})"]
    return text + "\n".join(lines) + "\n"
