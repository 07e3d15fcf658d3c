"""The cost of one loop run, round by round: LLM spend, the human cost of the same sentences, F1 per dollar.

The sentences are those the round asked the annotator about (its ``selection.json``); their words are
counted from the corpus. The audit (the gold seed labelled once more before round 1) adds to the LLM side
only. The LLM side is what the ledger says was billed for the round (dropped answers
were paid for too); the human side is :func:`.human.human_cost` for the same words. The "human route" F1
is the gold-oracle run of the same language, strategy and seed when one is present (the gold oracle
stands for careful human labels), else not available. A run with review adds the reviewer's hours (timed from
Prodigy's timestamps where the answers carry them, else estimated from the words reviewed) at the human model's
hourly rates, and gives the savings of LLM plus reviewer.
"""
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import srsly
from spacy.vocab import Vocab

from ..data.corpus import load_docs, pool_file
from ..data.docs import sentence_id
from ..data.iob import iob_to_spans
from ..data.shards import ShardedPool, is_sharded
from ..fileio import read_jsonl
from .human import DEFAULTS, HumanCostModel, human_cost
from .ledger import Prices, read_ledger, spend_by_round

PAPER_SAVINGS = 42.45  # "at least 42.45x" (arXiv 2404.02261); its human-cost assumption is unpublished


def corpus_words(corpus: Path) -> Dict[str, int]:
    """Words per sentence id of a corpus folder's train split (the pool; a sharded one read without its Docs)."""
    path = pool_file(corpus / "train.spacy")
    if is_sharded(path):
        pool = ShardedPool(path, Vocab())
        return dict(zip(pool.ids, pool.n_tokens(range(len(pool)))))
    return {sentence_id(doc): len(doc) for doc in load_docs(path)}


def _ratio(human: float, llm: float) -> Optional[float]:
    return human / llm if llm > 0 else None


def gold_route(run_dir: Path, loop: Dict[str, Any], gold_runs_dir: Optional[Path] = None) -> Dict[int, float]:
    """Test F1 per round of the gold-oracle run matching this one (same folder name with ``gold``, beside it or
    in ``gold_runs_dir``), if present."""
    plain = re.sub(r"-lp-.+(?=-seed\d+$)", "", loop["run"])  # the gold oracle's answers take no label policy
    name = plain.replace(f"-{loop['annotator']}-", "-gold-", 1)
    path = (gold_runs_dir or run_dir.parent) / name / "loop.json"
    if name == loop["run"] or not path.exists():
        return {}
    return {r["round"]: f1 for r in srsly.read_json(path)["rounds"] if (f1 := _f1(r)) is not None}


def _f1(record: Dict[str, Any]) -> Optional[float]:
    """A round's test entity F1 (%); None for a run without gold test data."""
    return None if record["test"] is None else 100 * record["test"]["ents_f"]


def round_cost(rd: Path, words: Dict[str, int], spend: Dict[str, Any], model: HumanCostModel) -> Dict[str, Any]:
    """One query round's figures (see the module docstring)."""
    selected = [item["id"] for item in srsly.read_json(rd / "selection.json")["selected"]]
    answered = read_jsonl(rd / "annotations.jsonl") if (rd / "annotations.jsonl").exists() else []
    asked = {r["id"] for r in answered}
    wanted = [sid for sid in selected if sid in asked]  # a budget stop leaves some selected sentences unasked
    received = [r for r in answered if r.get("tags") is not None]
    missing = [sid for sid in wanted if sid not in words]
    if missing:
        raise ValueError(f"{rd}: selected sentences not in the corpus's train split (e.g. {missing[:3]}); "
                         "give the corpus the run was made with (--corpus-root)")
    n_words = sum(words[sid] for sid in wanted)
    n_entities = sum(len(iob_to_spans(r["tags"])) for r in received)
    llm = spend.get("cost_usd", 0.0)
    compared = llm + spend.get("cached_cost_usd", 0.0)  # the answers' cost had none come from the cache
    human = human_cost(n_words, model)
    return {"selected": len(selected), "requested": len(wanted), "received": len(received), "words": n_words,
            "entities": n_entities,
            "llm": {k: spend.get(k, 0) for k in ("requests", "cache_hits", "input_tokens", "output_tokens",
                                                 "cost_usd", "cached_cost_usd", "models")},
            "llm_usd_per_sentence": llm / len(received) if received else None,
            "llm_usd_per_entity": llm / n_entities if n_entities else None,
            "human_usd": {k: human[k] for k in ("low", "central", "high")},
            "human_hours": {k: human[f"hours_{k}"] for k in ("low", "central", "high")},
            "savings": {k: _ratio(human[k], compared) for k in ("low", "central", "high")}}


def run_cost(run_dir: Path, corpus_root: Path, prices: Optional[Prices] = None,
             model: HumanCostModel = DEFAULTS, gold_runs_dir: Optional[Path] = None) -> Dict[str, Any]:
    """Every round of one run, and its totals (see the module docstring)."""
    loop = srsly.read_json(run_dir / "loop.json")
    own = loop.get("corpus")  # the run's corpus folder, recorded since runs on corpora of one's own exist
    corpus = Path(own) if own and Path(own).exists() else corpus_root / loop["lang"]
    words = corpus_words(corpus)
    ledger = run_dir / "llm-usage.jsonl"
    records, notes = read_ledger(ledger) if ledger.exists() else ([], [f"{ledger}: no ledger (nothing billed)"])
    spend = spend_by_round(records, prices)
    gold = gold_route(run_dir, loop, gold_runs_dir)
    rounds: List[Dict[str, Any]] = []
    for record in loop["rounds"]:
        k = record["round"]
        row: Dict[str, Any] = {"round": k, "n_labelled": record["n_labelled"], "test_f1": _f1(record),
                               "gold_route_f1": gold.get(k)}
        rd = run_dir / f"round-{k:02d}"
        if k > 0 or (rd / "annotations.jsonl").exists():  # round 0 too when the annotator labelled the seed
            row.update(round_cost(rd, words, spend.get(k, {}), model))
            previous = rounds[-1]["test_f1"] if rounds else None
            row["f1_gain"] = None if row["test_f1"] is None or previous is None else row["test_f1"] - previous
            row["f1_gain_per_usd"] = (row["f1_gain"] / row["llm"]["cost_usd"]
                                      if row["f1_gain"] is not None and row["llm"]["cost_usd"] else None)
            if record.get("review"):
                row["review"] = reviewer_cost(record["review"], model)
        rounds.append(row)
    audit = audit_cost(run_dir, spend.get(0, {})) if not (run_dir / "round-00" / "annotations.jsonl").exists() \
        else None
    return {"run": loop["run"], "lang": loop["lang"], "annotator": loop["annotator"], "seed": loop["seed"],
            "strategy": loop["strategy"], "rounds": rounds, "audit": audit, "totals": totals(rounds, audit),
            "notes": notes, "unassigned_spend": spend.get(-1)}


def reviewer_cost(review: Dict[str, Any], model: HumanCostModel) -> Dict[str, Any]:
    """A round's review: sentences reviewed and changed, the person's hours (timed: ``review/tasks.py``; or
    estimated from the words: ``review/timing.py``) and what they cost at the human model's hourly rates (low
    hours at the low rate ...)."""
    hours = review["person_hours"]
    rates = {"low": model.hourly_usd[0], "central": sum(model.hourly_usd) / 2, "high": model.hourly_usd[1]}
    return {"reviewed": review["accepted"], "changed": review["changed"], "rejected": review["rejected"],
            "simulated": review["simulated"], "hours": dict(hours), "answers_timed": review.get("answers_timed", 0),
            "answered": review["accepted"] + review["rejected"] + review.get("ignored", 0),
            "usd": {k: hours[k] * rates[k] for k in ("low", "central", "high")}}


def audit_cost(run_dir: Path, spend: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What the audit (the annotator labelling the gold seed before round 1; round 0 in the ledger) cost; None for
    a run without one. People need no audit: it counts on the LLM side only."""
    path = run_dir / "audit" / "annotations.jsonl"
    if not path.exists():
        return None
    return {"sentences": len(read_jsonl(path)),
            "llm": {k: spend.get(k, 0) for k in ("requests", "cache_hits", "input_tokens", "output_tokens",
                                                 "cost_usd", "cached_cost_usd", "models")}}


def totals(rounds: List[Dict[str, Any]], audit: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Sums over the query rounds (and the audit, on the LLM side), savings, and dollars per F1 point on each route
    (from the seed round)."""
    query = [r for r in rounds if "llm" in r]  # the rounds that asked the annotator
    paid = [r["llm"] for r in query] + ([audit["llm"]] if audit else [])
    llm = sum(x["cost_usd"] for x in paid)
    compared = llm + sum(x.get("cached_cost_usd", 0.0) for x in paid)
    human = {k: sum(r["human_usd"][k] for r in query) for k in ("low", "central", "high")}
    out: Dict[str, Any] = {"requested": sum(r["requested"] for r in query),
                           "received": sum(r["received"] for r in query), "words": sum(r["words"] for r in query),
                           "entities": sum(r["entities"] for r in query), "llm_usd": llm, "human_usd": human,
                           "llm_usd_without_cache": compared,
                           "savings": {k: _ratio(v, compared) for k, v in human.items()},
                           "paper_savings": PAPER_SAVINGS}
    reviews = [r["review"] for r in query if r.get("review")]
    if reviews:  # a person reviewed some answers: their hours join the LLM's dollars
        review_usd = {k: sum(r["usd"][k] for r in reviews) for k in ("low", "central", "high")}
        total = {k: compared + v for k, v in review_usd.items()}
        out["review"] = {"reviewed": sum(r["reviewed"] for r in reviews), "changed": sum(r["changed"] for r in reviews),
                         "hours": {k: sum(r["hours"][k] for r in reviews) for k in ("low", "central", "high")},
                         "usd": review_usd, "simulated": any(r["simulated"] for r in reviews),
                         "answers_timed": sum(r.get("answers_timed", 0) for r in reviews),
                         "answered": sum(r.get("answered", r["reviewed"]) for r in reviews),
                         "llm_plus_review_usd": total,
                         "savings_with_review": {k: _ratio(human[k], total[k]) for k in ("low", "central", "high")}}
    if query and query[-1]["test_f1"] is not None and rounds[0]["test_f1"] is not None:
        gain = query[-1]["test_f1"] - rounds[0]["test_f1"]
        out["llm_f1_gain"] = gain
        out["llm_usd_per_f1_point"] = llm / gain if gain > 0 else None
        gold_last, gold_first = query[-1].get("gold_route_f1"), rounds[0].get("gold_route_f1")
        if gold_last is not None and gold_first is not None:
            gold_gain = gold_last - gold_first
            out["human_f1_gain"] = gold_gain
            out["human_usd_per_f1_point"] = {k: v / gold_gain for k, v in human.items()} if gold_gain > 0 else None
    return out
