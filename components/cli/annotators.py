"""The annotators: ``annotator-eval`` (choose one), ``calibrate`` (fit a SIMULATED one to recorded answers) and
``simulate-llm`` (serve a SIMULATED LLM for offline runs)."""
from pathlib import Path
from typing import List, Optional

from wasabi import msg

from ._util import (
    Arg,
    Opt,
    app,
    exits_on_error,
    llm_endpoint_option,
    llm_model_option,
    llm_settings,
    setup,
    split_list,
)


@app.command("annotator-eval")
def annotator_eval_cli(
    output: Path = Opt(..., help="Write the report here as JSON"),
    recorded: Optional[Path] = Opt(None, help="Judge recordings instead of asking: a recorded <model>/<lang>.json "
                                              "file, or a folder of them"),
    annotators: Optional[List[str]] = Opt(None, "--annotator", help="Ask this annotator (a loop short name, e.g. "
                                                                    "sim-gpt-4-turbo, gpt-4-turbo; repeat the option "
                                                                    "or give a comma-separated list)"),
    langs: Optional[List[str]] = Opt(None, "--lang", help="Language to ask about (repeat the option or give a "
                                                          "comma-separated list)"),
    n: int = Opt(50, help="Sentences per language (entity-rich, from train and dev, never test)"),
    runs: int = Opt(10, help="Times each sentence is asked (replicates)"),
    sample_seed: int = Opt(0, help="Seed of the sentence sample"),
    corpus_root: Path = Opt(Path("corpus"), help="Folder of converted corpora (<lang>/train.spacy ...)"),
    cache_path: Optional[str] = Opt(None, help="LLM prompt cache (default: the annotator config's)"),
    plot: Optional[Path] = Opt(None, help="Also draw entity F1 against cost here (PNG)"),
    llm_endpoint: str = llm_endpoint_option(),
    llm_model: str = llm_model_option(),
    expected_records: Optional[int] = Opt(None, help="Recorded: records sampled per file (missing ones are "
                                                     "failures)"),
    expected_runs: int = Opt(10, help="Recorded: runs asked for per record (the paper's 10)"),
    markdown: Optional[Path] = Opt(None, help="Also write the report here as Markdown tables"),
    bootstrap: int = Opt(1000, help="Bootstrap samples for the 95% intervals"),
    seed: int = Opt(0, help="Bootstrap seed"),
) -> None:
    """Choose the annotator: accuracy, entity F1, Fleiss' kappa, format failures, cost; asked live or recorded."""
    from ..annotator_eval.choose import annotator_eval_live
    from ..annotator_eval.report import annotator_eval

    setup()
    names, lang_codes = split_list(annotators), split_list(langs)  # a,b or repeated
    with exits_on_error(RuntimeError):  # a live annotator that leaves sentences unanswered
        if (recorded is None) == (not names):
            raise ValueError("give either --recorded (judge recordings) or --annotator and --lang (ask annotators)")
        if recorded is not None:
            result = annotator_eval(recorded, output, markdown, expected_records=expected_records,
                                    expected_runs=expected_runs, n_bootstrap=bootstrap, seed=seed)
        else:
            if not lang_codes:
                raise ValueError("--annotator needs at least one --lang")
            result = annotator_eval_live(names, lang_codes, corpus_root, output, markdown, plot, n=n, runs=runs,
                                         seed=sample_seed, cache_path=cache_path, n_bootstrap=bootstrap,
                                         bootstrap_seed=seed, settings=llm_settings(llm_endpoint, llm_model))
    for row in result["rows"]:
        kappa = row["kappa"]["kappa"]
        msg.good(f"{row['model']} {row['lang']}: consistency {row['consistency']:.2f}%, Fleiss' kappa "
                 f"{'-' if kappa is None else f'{kappa:.3f}'} ({row['kappa']['records_excluded']} excluded), "
                 f"entity F1 {row['entities']['all_runs']['f']:.2f}")
    for text in result["findings"]:
        msg.info(text)
    if "recommendation" in result:
        rec = result["recommendation"]
        msg.good(f"recommended: {rec['overall']} ({rec['rule']})")
        if rec.get("note"):
            msg.warn(rec["note"])
    msg.good(f"wrote {output}" + (f" and {markdown}" if markdown else "") + (f" and {plot}" if plot else ""))


@app.command("calibrate")
def calibrate_cli(
    recorded: List[Path] = Opt(..., help="Recorded <model>/<lang>.json files or folders (repeat the option)"),
    output: Path = Opt(..., help="Write the error profile here (JSON)"),
    name: Optional[str] = Opt(None, help="Profile name (default: the recordings' model folder)"),
    fidelity: Optional[Path] = Opt(None, help="Also simulate the recorded sentences and write how close they come "
                                              "here (JSON, and Markdown beside it)"),
    seeds: int = Opt(10, help="Fidelity: seeds to average over"),
) -> None:
    """Fit a SIMULATED annotator's error profile from recorded LLM annotations, per language and pooled."""
    from ..simulate.fidelity import calibrate_with_fidelity

    setup()
    with exits_on_error():
        profile, result = calibrate_with_fidelity(recorded, output, name, fidelity, seeds)
    for lang, fitted in profile["languages"].items():
        summary = fitted["summary"]
        msg.good(f"{profile['name']} {lang}: {fitted['records']} records, {fitted['runs']} runs; spurious entities "
                 f"{summary['spurious_entities']['per_sentence']:.2f} per sentence, wrong-length runs "
                 f"{summary['wrong_length_runs']['rate']:.3f}; systematic {summary['systematic']}")
    if fidelity is not None and result is not None:
        for row in result["in_sample"] + result["leave_one_out"]:
            msg.info(f"{row['lang']} ({row['tables']}): within targets {row['within']}")
    msg.good(f"wrote {output}" + (f", {fidelity} and {fidelity.with_suffix('.md')}" if fidelity else ""))


@app.command("simulate-llm")
def simulate_llm_cli(
    gold: Optional[Path] = Arg(None, help="Gold corpus the SIMULATED LLM answers from (.spacy, .jsonl or CoNLL); not "
                                          "with --rule"),
    port: int = Opt(8000, help="Port on 127.0.0.1"),
    latency: float = Opt(0.0, help="Seconds to wait per request"),
    fault_rate: float = Opt(0.0, help="Share of requests that get an injected fault"),
    log: Optional[Path] = Opt(None, help="Write every request received here (JSONL)"),
    normalize: Optional[str] = Opt(None, help="Answer with tokens in this Unicode normal form (NFC, NFD, NFKC or "
                                              "NFKD), as a real LLM answers in NFC; default: the tokens as asked"),
    rule: str = Opt("", help="Answer by a rule instead of gold, for texts without labels: 'capitalised:<LABEL>' "
                             "(runs of capitalised tokens after the first)"),
) -> None:
    """Serve a SIMULATED LLM (gold answers, optional faults) on 127.0.0.1 for offline runs of the LLM loop."""
    import time

    from ..simulate.rules import simulated_llm
    from ..simulate.server import SimulatedLLMServer

    setup()
    with exits_on_error():  # both or neither of gold and rule, an unknown normal form or rule, an unlabelled corpus
        simulated = simulated_llm(gold, rule, fault_rate=fault_rate, latency=latency, log_path=log,
                                  normalize=normalize)
    form = f"tokens in {simulated.normalize}" if simulated.normalize else "tokens as asked"
    source = f"the rule {rule}" if rule else f"answers from {gold}"
    with SimulatedLLMServer(simulated, port=port) as server:
        msg.warn(f"SIMULATED LLM ({source} with {form}, not a language model) at {server.url}; Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
