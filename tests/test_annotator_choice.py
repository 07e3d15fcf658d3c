"""``annotator-eval`` asking annotators live, through the loop's annotator path: k replicates, usage, the rule.

Nothing here calls a paid API: the SIMULATED GPT-4-Turbo answers in-process, and the openai-compatible
annotator talks HTTP to the local simulated server on 127.0.0.1.
"""
import json

from typer.testing import CliRunner

from spacy_llm_loop.annotator_eval.choose import annotator_eval_live, recommend
from spacy_llm_loop.annotator_eval.report import evaluate_recorded
from spacy_llm_loop.cli import app
from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer, gold_from

from .test_llm_loop import annotator_config

N, RUNS = 12, 4  # 12 sentences, 2 per request: 6 prompts, asked 4 times each


def row(result, model):
    return next(r for r in result["rows"] if r["model"] == model)


def test_simulated_and_gold_asked_k_times_judged_and_recommended(small_corpus, tmp_path) -> None:
    args = (["sim-gpt-4-turbo", "gold"], ["tsn"], small_corpus.parent, tmp_path / "annotators.json",
            tmp_path / "annotators.md", tmp_path / "annotators.png")
    options = {"n": N, "runs": RUNS, "cache_path": str(tmp_path / "cache.sqlite"), "n_bootstrap": 100}
    result = annotator_eval_live(*args, **options)
    gold, sim = row(result, "gold"), row(result, "sim-gpt-4-turbo")
    assert gold["consistency"] == 100.0 and gold["kappa"]["kappa"] == 1.0 and gold["entities"]["all_runs"]["f"] == 1.0
    # the simulated GPT-4-Turbo errs (tsn, recorded: consistency 89.7, kappa 0.93), and its runs vary a little
    assert 75 < sim["consistency"] < 99.5 and sim["entities"]["all_runs"]["f"] < 0.95 and sim["simulated"]
    assert sim["kappa"]["kappa"] is None or sim["kappa"]["kappa"] < 1.0
    paid = sim["usage"]["paid_in_ledger"]
    assert paid["http_requests"] == RUNS * N // 2 and paid["cache_hits"] == 0 and paid["cost_usd"] > 0
    assert sim["usage"]["cost_per_1000_sentences_usd"] > 0 and sim["usage"]["input_tokens_per_sentence"] > 0
    sample = json.loads((tmp_path / "annotators" / "sample-tsn.json").read_text())
    assert len(sample["sentences"]) == N and not [s for s in sample["sentences"] if "-test-" in s]
    # the answers are written in the recorded format, and judged the same way from there
    again = evaluate_recorded(tmp_path / "annotators" / "sim-gpt-4-turbo" / "tsn.json", expected_runs=RUNS,
                              n_bootstrap=100)
    assert again["rows"][0]["consistency"] == sim["consistency"]
    assert result["recommendation"]["overall"] == "sim-gpt-4-turbo" and "SIMULATED" in result["recommendation"]["note"]
    text = (tmp_path / "annotators.md").read_text()
    assert "sim-gpt-4-turbo (SIMULATED)" in text and "## Recommendation" in text and "](annotators.png)" in text
    assert (tmp_path / "annotators.png").read_bytes()[:4] == b"\x89PNG"
    # a rerun asks nothing: every replicate's answer comes from the cache, and the figures are the same
    rerun = annotator_eval_live(*args, **options)
    sim2 = row(rerun, "sim-gpt-4-turbo")
    assert sim2["consistency"] == sim["consistency"] and sim2["kappa"] == sim["kappa"]
    assert sim2["usage"]["paid_in_ledger"]["http_requests"] == RUNS * N // 2
    assert sim2["usage"]["paid_in_ledger"]["cache_hits"] == RUNS * N // 2


def test_openai_compatible_over_http_with_faults_asks_each_replicate(small_corpus, tmp_path) -> None:
    gold = {**gold_from(small_corpus / "train.spacy"), **gold_from(small_corpus / "dev.spacy")}
    simulated = SimulatedLLM(gold, fault_rate=0.2, timeout_sleep=0.0, seed=3)
    config = annotator_config(tmp_path)  # the packaged openai-compatible config with short waits
    with SimulatedLLMServer(simulated) as server:
        result = annotator_eval_live(["openai-compatible"], ["tsn"], small_corpus.parent, tmp_path / "a.json",
                                     n=N, runs=RUNS, cache_path=str(tmp_path / "cache.sqlite"), n_bootstrap=100,
                                     settings={"endpoint": server.url, "config": str(config)})
    transient = {"429", "500", "503", "timeout"}
    answered = [entry for entry in simulated.log if entry["fault"] not in transient]
    assert len(answered) == RUNS * N // 2  # each replicate reached the server: k requests per prompt
    only = result["rows"][0]
    assert only["usage"]["requests"] == RUNS * N // 2 and only["usage"]["paid_in_ledger"]["retries"] > 0
    # faults in the answers' content (truncated JSON, a skipped token, an unknown tag ...) are what the parser drops
    # or repairs; every other answer is the gold one
    content_faults = sum(entry["fault"] is not None for entry in answered)
    parser = only["parser"]
    assert content_faults > 0 and parser["dropped"] + parser["answers_repaired"] > 0
    assert parser["answers"] == RUNS * N and only["consistency"] > 60


def _row(model, f, kappa, cost, lang="tsn"):
    return {"model": model, "lang": lang, "entities": {"all_runs": {"f": f}}, "kappa": {"kappa": kappa},
            "usage": {"cost_per_1000_sentences_usd": cost}}


def test_recommendation_rule_f1_then_agreement_then_cost() -> None:
    rows = [_row("gold", 1.0, 1.0, None), _row("a", 0.80, 0.90, 1.0), _row("b", 0.79, 0.95, 5.0),
            _row("c", 0.70, 0.99, 0.1)]
    choice = recommend(rows)["by_lang"]["tsn"]
    assert choice["annotator"] == "b" and choice["decided_by"] == "Fleiss' kappa"  # a and b tie on F1
    rows.append(_row("d", 0.795, 0.94, 2.0))  # ties with b on F1 and kappa, and costs less
    choice = recommend(rows)["by_lang"]["tsn"]
    assert choice["annotator"] == "d" and choice["decided_by"] == "cost"
    assert recommend([_row("a", 0.9, None, None), _row("b", 0.5, 0.9, 1.0)])["by_lang"]["tsn"]["decided_by"] == \
        "entity F1"
    overall = recommend([_row("a", 0.8, 0.9, 1, "bam"), _row("b", 0.7, 0.9, 1, "bam"), _row("a", 0.6, 0.9, 1, "zul"),
                         _row("b", 0.7, 0.9, 1, "zul"), _row("b", 0.7, 0.9, 1, "tsn"), _row("a", 0.1, 0.9, 1, "tsn")])
    assert overall["overall"] == "b" and overall["note"] is None


def test_cli_needs_recordings_or_annotators(tmp_path) -> None:
    result = CliRunner().invoke(app, ["annotator-eval", "--output", str(tmp_path / "x.json")])
    assert result.exit_code == 1 and "either --recorded" in result.output
    result = CliRunner().invoke(app, ["annotator-eval", "--output", str(tmp_path / "x.json"), "--annotator", "gold"])
    assert result.exit_code == 1 and "--lang" in result.output
    result = CliRunner().invoke(app, ["annotator-eval", "--output", str(tmp_path / "x.json"), "--annotator", "nope",
                                      "--lang", "tsn", "--corpus-root", str(tmp_path)])
    assert result.exit_code == 1
