"""``leakage``: the overlap check (test sentences where the loop trained or prompted: an error, exit 1), the
datasets' own duplicates, and the optional memorisation probes and Min-K%++ (:mod:`..leakage.report`)."""
from pathlib import Path
from typing import Any, Dict, List, Optional

from wasabi import msg

from ..errors import LoopError
from ._util import (
    Opt,
    app,
    exits_on_error,
    fail,
    llm_endpoint_option,
    llm_model_option,
    llm_settings,
    setup,
    split_list,
)


@app.command("leakage")
def leakage_cli(
    runs_dir: Path = Opt(Path("runs"), help="Run folders to check"),
    corpus_root: Path = Opt(Path("corpus"), help="Converted corpora (<lang>/{train,dev,test}.spacy)"),
    langs: Optional[List[str]] = Opt(None, "--lang", help="Only these languages (repeat or a,b); the datasets' own "
                                                          "duplicates are counted for each"),
    threshold: float = Opt(0.8, help="Near duplicate: Jaccard similarity of character 5-grams >= this"),
    output: Path = Opt(Path("metrics/leakage.json"), help="Write the report here (JSON)"),
    markdown: Optional[Path] = Opt(Path("reports/leakage.md"), help="And here as Markdown"),
    probe_annotator: str = Opt("", help="Also probe this annotator's LLM for memorisation (an annotator config or "
                                        "packaged name, e.g. gpt-4-turbo, openai-compatible)"),
    llm_endpoint: str = llm_endpoint_option("Probes"),
    llm_model: str = llm_model_option("Probes"),
    probes: str = Opt("text_quiz,label_quiz,source,completion", help="Probes to run (comma-separated)"),
    probe_n: int = Opt(100, help="Probes: sentences per probe and language (seeded sample)"),
    probe_seed: int = Opt(0, help="Probes: sample seed"),
    cache_path: str = Opt("cache/llm.sqlite", help="Probes: the LLM prompt cache"),
    logprob_endpoint: str = Opt("", help="Min-K%++: an OpenAI-compatible completions base URL that returns "
                                         "log-probabilities (e.g. vLLM's http://host:8000/v1)"),
    logprob_model: str = Opt("", help="Min-K%++: the served model's name"),
    logprob_key_env: str = Opt("", help="Min-K%++: the environment variable holding the API key, if any"),
    nonmembers: Optional[Path] = Opt(None, help="Min-K%++: sentences of the language the model never saw, one per "
                                                "line"),
    logprob_n: int = Opt(200, help="Min-K%++: members and non-members per language"),
    annotator_eval_dir: Optional[Path] = Opt(None, help="Label quiz: annotator-eval's answers folder "
                                                        "(metrics/annotators): quiz the same model on the sentences "
                                                        "it tagged there and compare with its accuracy on them"),
) -> None:
    """Data leakage: test sentences in what the loop trained on or showed the LLM (an error: exit 1, listed),
    the datasets' own duplicates across splits (reported) and, with --probe-annotator, memorisation probes."""
    from ..leakage.overlap import OverlapSettings
    from ..leakage.report import LogprobRequest, ProbeRequest, leakage_report, write_leakage

    setup()
    probe = None if not probe_annotator else ProbeRequest(
        probe_annotator, **llm_settings(llm_endpoint, llm_model), probes=split_list([probes]), n=probe_n,
        seed=probe_seed, cache_path=cache_path, ledger_path=str(output.parent / "leakage-usage.jsonl"),
        annotator_eval_dir=annotator_eval_dir)
    logprob = None if not logprob_endpoint else LogprobRequest(
        logprob_endpoint, logprob_model, nonmembers, n=logprob_n, key_env=logprob_key_env or None)
    with exits_on_error(KeyError):  # a run folder whose loop.json lacks a field the check reads
        report = leakage_report(runs_dir, corpus_root, split_list(langs) or None,
                                OverlapSettings(threshold=threshold), probe, logprob)
        write_leakage(report, output, markdown)
    _print_findings(report)
    msg.good(f"wrote {output}" + (f" and {markdown}" if markdown else ""))
    if report["errors"]:
        for e in report["errors"][:20]:
            msg.fail(f"{e['run']}: {e['set']} sentence {e['id']} ({e['reason']})")
        fail(LoopError(f"data leakage: {len(report['errors'])} test sentences in training data or few-shot "
                       f"examples (listed in {output})"))
    msg.good(f"no leakage in {len(report['runs'])} runs")


def _print_findings(report: Dict[str, Any]) -> None:
    """The datasets' own duplicates, the runs' warnings and the memorisation verdict, a line each."""
    for lang, data in report["datasets"].items():
        pairs = data["pairs"]
        msg.info(f"{lang} (the dataset itself): train-test {pairs['train|test']['exact']['pairs']} exact, "
                 f"{pairs['train|test']['near']['pairs']} near duplicates; train-dev "
                 f"{pairs['train|dev']['exact']['pairs']} exact, {pairs['train|dev']['near']['pairs']} near")
    for name, run in report["runs"].items():
        if run["warnings"]:
            msg.warn(f"{name}: {len(run['warnings'])} training sentences that the dataset repeats in test")
    if report.get("memorisation") and report["memorisation"]["verdict"]:
        decision = report["memorisation"]["verdict"]
        msg.info(f"memorisation probes ({report['memorisation']['model']}): {decision['overall']}; " + ", ".join(
            f"{lang} {v['verdict']} (Holm p {v['p_holm']:.3g})" for lang, v in decision["languages"].items()))
