"""``loop``: run (or resume) the active-learning loop, or only estimate its cost (``--dry-run``).

The shortcut options become config overrides in :func:`..loop.shortcuts.shortcut_overrides`; extra
``--section.key value`` options override the loop config, ``--learner.section.key`` the learner's. A run that
waits for a person's review stops with exit code 3 and says what to do; the same command then resumes it.
"""
from pathlib import Path
from typing import Any, Dict, Optional

import srsly
import typer
from wasabi import msg

from ..errors import ReviewPending
from ..review.settings import ReviewSettings
from ._util import (
    COMMAND,
    EXTRA,
    Opt,
    app,
    exits_on_error,
    llm_endpoint_option,
    llm_model_option,
    setup,
    split_overrides,
)
from .corpus import prepare_pool

REVIEW_PENDING_EXIT = 3  # the run stopped to wait for a person's review: not a failure, not finished


@app.command("loop", context_settings=EXTRA)
def loop_cli(
    ctx: typer.Context,
    config: Path = Opt(Path("configs/loop.cfg"), help="Loop config"),
    lang: Optional[str] = Opt(None, help="Language code"),
    annotator: Optional[str] = Opt(None, help="Annotator short name, e.g. gold"),
    strategy: Optional[str] = Opt(None, help="random, entropy, max-entropy, least-confidence or mnlp"),
    seed: Optional[int] = Opt(None, help="Random seed (seed set, training, tie-breaks)"),
    rounds: Optional[int] = Opt(None, help="Query rounds after the seed round"),
    query_size: Optional[str] = Opt(None, help="Per round: 5%, 0.05, 200 or 4000tok"),
    seed_size: Optional[str] = Opt(None, help="Seed set size: 5% or a count"),
    seed_sampler: Optional[str] = Opt(None, help="entity-rich (the paper's) or random"),
    label_policy: Optional[str] = Opt(None, help="What the learner is taught from the annotator's answers: trust "
                                                 "(as they are), types, disagree, gold3, combined ... "
                                                 "(components/policy/registry.py)"),
    review: str = Opt("", help="Review budget per round: a share of the round's LLM labels (10%), a count (20) or "
                               "reviewer minutes (30min); the most doubtful go to a person as Prodigy tasks"),
    review_rank: Optional[str] = Opt(None, help="With --review: doubt (the default), residual (the doubt the label "
                                                "policy leaves in what is taught) or random"),
    reviewer: Optional[str] = Opt(None, help="With --review: prodigy (a person; the default) or simulated (the "
                                             "SIMULATED reviewer: gold labels)"),
    review_no_wait: bool = Opt(False, "--review-no-wait", help="With --review: train on what is answered and merge "
                                                               "late answers in the next round"),
    corpus: Optional[Path] = Opt(None, help="Corpus folder (default corpus/<lang>)"),
    learner_config: Optional[Path] = Opt(None, help="Learner config"),
    runs_dir: Optional[Path] = Opt(None, help="Where run folders go"),
    run_name: Optional[str] = Opt(None, help="Run folder name (default, or '': "
                                             "<lang>-<annotator>-<strategy>[-<variant>]-seed<k>)"),
    gpu_id: Optional[int] = Opt(None, help="GPU id, -1 for CPU"),
    llm_endpoint: str = llm_endpoint_option(),
    llm_model: str = llm_model_option(),
    budget_usd: str = Opt("", help="LLM annotators: stop annotating once this many USD are spent"),
    budget_tokens: str = Opt("", help="LLM annotators: stop annotating after this many tokens"),
    code: Optional[Path] = Opt(None, help="Python file with extra registered functions"),
    dry_run: bool = Opt(False, "--dry-run", help="Only estimate what the annotation will cost, then stop"),
    pool: str = Opt("", help="Your own unlabelled texts (see 'prepare'): prepared into --corpus (default "
                             "corpus/<lang>) first"),
    labels: str = Opt("", help="With --pool: JSON file {label: definition}"),
    language: str = Opt("", help="With --pool: the language's name"),
    seed_data: str = Opt("", help="With --pool: a labelled seed file"),
    dev_data: str = Opt("", help="With --pool: labelled dev data"),
    test_data: str = Opt("", help="With --pool: labelled test data"),
    transfer_langs: str = Opt("", help="Other MasakhaNER languages whose gold train data joins every round's "
                                       "training ('xho sna', or 'auto': the closest by character trigrams); never "
                                       "dev, never counted"),
    transfer_max: int = Opt(2000, help="With --transfer-langs: sentences per transfer language"),
    transfer_ratio: float = Opt(0.0, help="With --transfer-langs: at most this many transfer sentences per target "
                                          "train sentence in a round (0: all of them)"),
    init_tok2vec: str = Opt("", help="Pretrained tok2vec weights (the 'pretrain' command's weights/model-last.bin) "
                                     "every round starts from"),
) -> None:
    """Run (or resume) the active-learning loop for one language, annotator, strategy and seed."""
    from ..loop.main import run_loop
    from ..loop.shortcuts import shortcut_overrides

    setup(code)
    with exits_on_error():
        if pool:
            if not lang:
                raise ValueError("--pool needs --lang (the language's code)")
            corpus = corpus or Path("corpus") / lang
            prepare_pool(corpus, lang=lang, pool=pool, labels=labels, language=language, seed_data=seed_data,
                         dev_data=dev_data, test_data=test_data, overwrite=False)
        learner, overrides = split_overrides(ctx.args)
        shortcuts, learner_shortcuts = shortcut_overrides(
            lang=lang, seed=seed, rounds=rounds, query_size=query_size, corpus=corpus, learner_config=learner_config,
            runs=runs_dir, run_name=run_name, gpu_id=gpu_id, llm_endpoint=llm_endpoint, llm_model=llm_model,
            budget_usd=budget_usd, budget_tokens=budget_tokens, transfer_langs=transfer_langs,
            transfer_max=transfer_max, transfer_ratio=transfer_ratio, init_tok2vec=init_tok2vec)
        learner.update(learner_shortcuts)
        overrides.update(shortcuts)
        settings = review_settings(review, review_rank, reviewer, review_no_wait)
        try:
            result = run_loop(config, overrides, learner, annotator=annotator, strategy=strategy,
                              seed_sampler=seed_sampler, seed_size=seed_size, label_policy=label_policy,
                              review=settings, dry_run=dry_run, progress=not dry_run)
        except ReviewPending as pending:
            msg.warn(str(pending))
            raise typer.Exit(REVIEW_PENDING_EXIT) from None
    if dry_run:
        from ..loop.estimate import describe

        msg.info(describe(result["dry_run"]))
        print(srsly.json_dumps(result["dry_run"], indent=2))
        return
    _report_run(result, Path(overrides.get("paths.runs", "runs")))


def review_settings(budget: str, rank: Optional[str], reviewer: Optional[str],
                    no_wait: bool) -> Optional[Dict[str, Any]]:
    """The ``[review]`` block's settings of the options (None without ``--review``)."""
    if not budget or not ReviewSettings(budget).active:  # the project passes the defaults (doubt, prodigy) always
        if rank not in (None, "doubt") or reviewer not in (None, "prodigy") or no_wait:
            raise ValueError("--review-rank, --reviewer and --review-no-wait need --review (a budget above 0)")
        return None
    return {"budget": budget, "rank": rank, "reviewer": reviewer, "wait": False if no_wait else None}


def _report_run(result: Dict[str, Any], runs: Path) -> None:
    """The finished run in two lines: its last test F1, its folder and what to run next."""
    last = result["rounds"][-1]
    test = ("no test data: test F1 not available" if last["test"] is None else
            f"last test entity F1 {100 * last['test']['ents_f']:.2f}")
    msg.good(f"{result['run']}: {len(result['rounds'])} rounds, {test}")
    msg.info(f"run folder: {runs / result['run']} (loop.json, each round's record.json, llm-usage.jsonl); next: "
             f"{COMMAND} report --runs-dir {runs} (reports/report.md), then export or package "
             f"{runs / result['run']}")
