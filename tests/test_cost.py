"""The cost step: ledger arithmetic, prices, the human cost model, a run's cost, the pre-flight estimate."""
import json
from pathlib import Path

import pytest
import srsly
from typer.testing import CliRunner

from spacy_llm_loop.cli import app
from spacy_llm_loop.cost.human import HumanCostModel, human_cost
from spacy_llm_loop.cost.ledger import read_ledger, spend_by_round
from spacy_llm_loop.cost.run_cost import run_cost
from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import doc_tags, sentence_id
from spacy_llm_loop.llm.pricing import price_for, require_price, table_info

GPT4T = (0.01, 0.03)


def rec(outcome, k, tokens=(0, 0), cache="miss", model="gpt-4-turbo", **extra):
    return {"model": model, "outcome": outcome, "cache": cache, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "context": {"round": k}, "prompt_hash": f"p{k}", **extra}


LEDGER = [rec("retry", 1, status=429), rec("ok", 1, (1000, 200)), rec("ok", 1, (500, 100)),
          rec("malformed_response", 1, (300, 50), retried=True), rec("cache_hit", 1, (1000, 200), cache="hit"),
          rec("budget_refused", 2), rec("ok", 2, (2000, 0)), rec("failed", 2, status=500)]


def test_ledger_arithmetic_by_hand() -> None:
    spend = spend_by_round(LEDGER)
    # round 1: billed 1000+500+300 in, 200+100+50 out: 1.8 x 0.01 + 0.35 x 0.03 = 0.018 + 0.0105
    assert spend[1]["requests"] == 3 and spend[1]["cache_hits"] == 1
    assert (spend[1]["input_tokens"], spend[1]["output_tokens"]) == (1800, 350)
    assert spend[1]["cost_usd"] == pytest.approx(0.0285)
    assert spend[2]["cost_usd"] == pytest.approx(0.02) and spend[2]["requests"] == 1


def test_a_model_missing_from_the_price_table_is_named() -> None:
    with pytest.raises(ValueError, match="no price for model 'mystery-7b'.*--price mystery-7b="):
        spend_by_round([rec("ok", 1, (10, 10), model="mystery-7b")])
    assert spend_by_round([rec("ok", 1, (1000, 0), model="mystery-7b")], {"mystery-7b": (0.5, 0.0)})[1][
        "cost_usd"] == pytest.approx(0.5)


def test_price_table_is_dated_and_prices_simulated_models_as_theirs() -> None:
    info = table_info()
    assert info["as_of"] and all(row["source"] for row in info["rows"])
    models = {row["model"] for row in info["rows"]}
    assert {"gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "claude-3-haiku", "claude-3-sonnet", "claude-3-opus",
            "local"} <= models
    assert price_for("sim-gpt-4-turbo") == price_for("gpt-4-turbo-2024-04-09") == GPT4T
    assert price_for("gpt-4o-mini") == (0.00015, 0.0006) and require_price("local") == (0.0, 0.0)


def test_an_interrupted_runs_ledger_counts_each_billed_request_once(tmp_path) -> None:
    first = [rec("ok", 1, (1000, 100), request_id="a"), rec("ok", 1, (1000, 100), request_id="b")]
    resumed = [rec("cache_hit", 1, (1000, 100), cache="hit", request_id="a"), rec("ok", 1, (400, 40), request_id="c")]
    lines = [json.dumps(r) for r in first] + [json.dumps(first[0])]  # a record repeated verbatim
    text = "\n".join(lines) + '\n{"model": "gpt-4-turbo", "outco' + "\n" + "\n".join(json.dumps(r) for r in resumed)
    path = tmp_path / "llm-usage.jsonl"
    path.write_text(text + "\n")
    with pytest.raises(Exception, match="broken JSON line before the end"):
        read_ledger(path)  # a cut line in the middle is not an interruption's mark: refused, with the line
    path.write_text("\n".join(lines + [json.dumps(r) for r in resumed]) + '\n{"model": "gpt-4-turbo", "outco')
    records, notes = read_ledger(path)
    assert len(notes) == 1 and ":6:" in notes[0]
    spend = spend_by_round(records)[1]
    assert spend["requests"] == 3 and spend["input_tokens"] == 2400 and spend["cache_hits"] == 1


def test_human_cost_model_by_hand() -> None:
    cost = human_cost(10_000)
    assert cost["low"] == pytest.approx(10_000 / 5500 * 5)  # fastest, cheapest, one annotator, no adjudication
    assert cost["high"] == pytest.approx(10_000 / 2000 * 3 * 1.25 * 20)
    assert cost["central"] == pytest.approx(10_000 / 3750 * 2 * 1.125 * 12.5)
    with pytest.raises(ValueError, match="hourly_usd"):
        human_cost(10, HumanCostModel(hourly_usd=(20.0, 5.0)))


def fake_run(root: Path, corpus: Path, name: str, annotator: str, f1s, ledger=None) -> Path:
    docs = load_docs(corpus / "train.spacy")
    run = root / name
    rounds = [{"round": k, "n_labelled": 10 * (k + 1), "test": {"ents_f": f}} for k, f in enumerate(f1s)]
    for k in range(1, len(f1s)):
        rd = run / f"round-{k:02d}"
        rd.mkdir(parents=True)
        chosen = docs[4 * k:4 * k + 4]
        srsly.write_json(rd / "selection.json", {"selected": [{"id": sentence_id(d)} for d in chosen]})
        srsly.write_jsonl(rd / "annotations.jsonl", [{"id": sentence_id(d), "tags": doc_tags(d) if i else None}
                                                     for i, d in enumerate(chosen)])
    run.mkdir(parents=True, exist_ok=True)
    srsly.write_json(run / "loop.json", {"run": name, "lang": "tsn", "annotator": annotator, "seed": 0,
                                         "strategy": "entropy", "rounds": rounds})
    if ledger is not None:
        srsly.write_jsonl(run / "llm-usage.jsonl", ledger)
    return run


def test_run_cost_per_round_savings_and_f1_per_dollar(small_corpus, tmp_path) -> None:
    runs = tmp_path / "runs"
    ledger = [rec("ok", 1, (10_000, 1000)), rec("ok", 2, (20_000, 0))]  # $0.13, then $0.20
    run = fake_run(runs, small_corpus, "tsn-sim-gpt-4-turbo-entropy-seed0", "sim-gpt-4-turbo", [0.5, 0.6, 0.62],
                   ledger)
    fake_run(runs, small_corpus, "tsn-gold-entropy-seed0", "gold", [0.5, 0.65, 0.7])
    result = run_cost(run, small_corpus.parent)
    one, two = result["rounds"][1], result["rounds"][2]
    docs = load_docs(small_corpus / "train.spacy")
    words = sum(len(d) for d in docs[4:8])
    assert one["requested"] == 4 and one["received"] == 3 and one["words"] == words
    assert one["llm"]["cost_usd"] == pytest.approx(0.13) and one["llm_usd_per_sentence"] == pytest.approx(0.13 / 3)
    assert one["human_usd"]["low"] == pytest.approx(words / 5500 * 5)
    assert one["savings"]["low"] == pytest.approx(one["human_usd"]["low"] / 0.13)
    assert one["f1_gain"] == pytest.approx(10.0) and one["f1_gain_per_usd"] == pytest.approx(10.0 / 0.13)
    assert two["gold_route_f1"] == pytest.approx(70.0)
    totals = result["totals"]
    assert totals["llm_usd"] == pytest.approx(0.33) and totals["llm_usd_per_f1_point"] == pytest.approx(0.33 / 12)
    assert totals["human_usd_per_f1_point"]["central"] == pytest.approx(totals["human_usd"]["central"] / 20)


def test_cost_cli_writes_report_and_names_an_unpriced_model(small_corpus, tmp_path) -> None:
    runs = tmp_path / "runs"
    fake_run(runs, small_corpus, "tsn-local-entropy-seed0", "openai-compatible", [0.5, 0.6],
             [rec("ok", 1, (100, 10), model="mystery-7b")])
    args = ["cost", "--runs-dir", str(runs), "--corpus-root", str(small_corpus.parent), "--output",
            str(tmp_path / "cost.json"), "--markdown", str(tmp_path / "cost.md"), "--plot", str(tmp_path / "c.png")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "mystery-7b" in result.output
    result = CliRunner().invoke(app, args + ["--price", "mystery-7b=0,0"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cost.json").read_text())
    assert report["runs"][0]["totals"]["llm_usd"] == 0 and report["runs"][0]["totals"]["savings"]["low"] is None
    assert "## Assumptions for the human side" in (tmp_path / "cost.md").read_text()


def test_a_policy_runs_audit_is_llm_spend_and_its_gold_route_is_the_plain_oracle(small_corpus, tmp_path) -> None:
    runs = tmp_path / "runs"
    ledger = [rec("ok", 0, (5_000, 0)), rec("ok", 1, (10_000, 1000))]  # the audit $0.05, round 1 $0.13
    name = "tsn-sim-gpt-4-turbo-entropy-lp-disagree-gold3-seed0"
    run = fake_run(runs, small_corpus, name, "sim-gpt-4-turbo", [0.5, 0.6], ledger)
    (run / "audit").mkdir()
    srsly.write_jsonl(run / "audit" / "annotations.jsonl", [{"id": "a", "tags": ["O"]}, {"id": "b", "tags": None}])
    fake_run(runs, small_corpus, "tsn-gold-entropy-seed0", "gold", [0.5, 0.65])
    result = run_cost(run, small_corpus.parent)
    assert result["audit"]["sentences"] == 2 and result["audit"]["llm"]["cost_usd"] == pytest.approx(0.05)
    assert result["totals"]["llm_usd"] == pytest.approx(0.18)  # people need no audit: the human side is unchanged
    assert result["rounds"][1]["gold_route_f1"] == pytest.approx(65.0)


def test_dry_run_prices_the_plan_and_writes_nothing(small_corpus, tmp_path, monkeypatch) -> None:
    from spacy_llm_loop.loop.main import run_loop

    from .conftest import ROOT

    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 2, "loop.query_size": "20", "seed_set.size": "24",
                "annotator.cache_path": str(tmp_path / "cache.sqlite")}
    plan = run_loop(ROOT / "configs" / "loop.cfg", settings, dry_run=True)["dry_run"]
    # 2 rounds of 20, and the audit's 22 seed sentences (the 24 less the two the prompts show as examples)
    assert plan["planned_sentences"] == 40 + 22 and plan["audit_sentences"] == 22
    assert plan["priced"] and plan["price_per_1k"] == list(GPT4T)
    # the small corpus's pool is smaller than the samples: both price the whole pool (grouped differently)
    assert 0 < plan["typical"]["cost_usd"] == pytest.approx(plan["long"]["cost_usd"], rel=0.02)
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "cache.sqlite").exists()  # nothing written, not even the prompt cache
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the real model's prompts are priced without its key
    real = run_loop(ROOT / "configs" / "loop.cfg", settings, annotator="gpt-4-turbo", dry_run=True)["dry_run"]
    assert real["priced"] and real["typical"]["cost_usd"] > 0
    del settings["annotator.cache_path"]
    gold = run_loop(ROOT / "configs" / "loop.cfg", settings, annotator="gold", dry_run=True)["dry_run"]
    assert not gold["priced"] and "costs nothing" in gold["note"]


def test_dry_run_names_the_folder_and_refuses_what_the_run_refuses(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.errors import LoopError
    from spacy_llm_loop.loop.main import run_loop

    from .conftest import ROOT

    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "20", "seed_set.size": "24"}
    plan = run_loop(ROOT / "configs" / "loop.cfg", settings, annotator="gold", strategy="entropy",
                    dry_run=True)["dry_run"]
    assert plan["run"] == str(tmp_path / "runs" / "tsn-gold-entropy-seed0")
    mc = {"components.uncertainty.estimator": "mc_dropout"}
    plan = run_loop(ROOT / "configs" / "loop.cfg", settings, mc, annotator="gold", strategy="entropy",
                    dry_run=True)["dry_run"]
    assert plan["run"].endswith("tsn-gold-entropy-mc-seed0")
    with pytest.raises(LoopError, match="tsn-gold-entropy-mc-seed0"):  # the real run refuses it: so does the dry run
        run_loop(ROOT / "configs" / "loop.cfg", {**settings, "loop.run_name": "tsn-gold-entropy-seed0"}, mc,
                 annotator="gold", strategy="entropy", dry_run=True)
    missing = {"paths.init_tok2vec": str(tmp_path / "pretrain" / "weights" / "model-last.bin")}
    for dry_run in (True, False):  # weights that were never made: both refuse them, naming the file, before any work
        with pytest.raises(LoopError, match="pretrained tok2vec weights .*model-last.bin.* are not a file"):
            run_loop(ROOT / "configs" / "loop.cfg", settings, missing, annotator="gold", strategy="entropy",
                     dry_run=dry_run)
    assert not (tmp_path / "runs").exists()


def test_savings_compare_the_sentences_asked_at_their_uncached_cost(small_corpus, tmp_path) -> None:
    runs = tmp_path / "runs"
    ledger = [rec("ok", 1, (10_000, 0)), rec("cache_hit", 1, (10_000, 0), cache="hit")]  # $0.10 paid, $0.10 cached
    run = fake_run(runs, small_corpus, "tsn-sim-gpt-4-turbo-entropy-seed0", "sim-gpt-4-turbo", [0.5, 0.6], ledger)
    log = run / "round-01" / "annotations.jsonl"
    log.write_text("\n".join(log.read_text().splitlines()[:3]) + "\n")  # a budget stop left one unasked
    one = run_cost(run, small_corpus.parent)["rounds"][1]
    docs = load_docs(small_corpus / "train.spacy")
    assert one["selected"] == 4 and one["requested"] == 3 and one["words"] == sum(len(d) for d in docs[4:7])
    assert one["llm"]["cost_usd"] == pytest.approx(0.1) and one["llm"]["cached_cost_usd"] == pytest.approx(0.1)
    assert one["savings"]["low"] == pytest.approx(one["human_usd"]["low"] / 0.2)
    overridden = run_cost(run, small_corpus.parent, prices={"gpt-4-turbo": (0.02, 0.0)})["rounds"][1]
    assert overridden["llm"]["cost_usd"] == pytest.approx(0.2)  # --price gpt-4-turbo reaches sim-gpt-4-turbo


def test_review_hours_join_the_llm_dollars_at_the_human_rates() -> None:
    from spacy_llm_loop.cost.run_cost import reviewer_cost, totals

    review = {"accepted": 10, "changed": 6, "rejected": 1, "ignored": 1, "simulated": True, "answers_timed": 4,
              "person_hours": {"low": 0.02, "central": 0.05, "high": 0.1}}
    row = reviewer_cost(review, HumanCostModel(hourly_usd=(5.0, 20.0)))
    assert row["usd"] == pytest.approx({"low": 0.1, "central": 0.625, "high": 2.0})
    rounds = [{"round": 0, "test_f1": 50.0},
              {"round": 1, "test_f1": 55.0, "requested": 20, "received": 20, "words": 400, "entities": 30,
               "llm": {"cost_usd": 1.0, "cached_cost_usd": 0.0}, "human_usd": {"low": 2.0, "central": 10.0,
                                                                                "high": 40.0}, "review": row}]
    total = totals(rounds)["review"]
    assert total["reviewed"] == 10 and total["changed"] == 6 and total["simulated"]
    assert (total["answers_timed"], total["answered"]) == (4, 12)
    assert total["llm_plus_review_usd"]["central"] == pytest.approx(1.625)
    assert total["savings_with_review"]["central"] == pytest.approx(10.0 / 1.625)
