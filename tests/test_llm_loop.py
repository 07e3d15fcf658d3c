"""The LLM annotator in the loop, against the local SIMULATED LLM server: faults, provenance, budget, resume."""
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import doc_tags, sentence_id
from spacy_llm_loop.loop.main import run_loop
from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer, gold_from

from .conftest import FAST_TRAINING, PACKAGED, ROOT

pytestmark = pytest.mark.slow
TRANSIENT = {"429", "500", "503", "timeout"}
QUERY = 120  # sentences asked in the faulty run: 60 requests of 2


def annotator_config(tmp_path: Path, **model) -> Path:
    """the packaged openai-compatible annotator config with test timings (short timeouts and waits)."""
    text = (PACKAGED / "openai-compatible.cfg").read_text()
    settings = {"timeout": "0.5", "max_tries": "12", "interval": "0.01", "max_wait": "0.1", **model}
    for key, value in settings.items():
        lines = text.splitlines()
        start = lines.index("[components.llm.model]")
        found = [i for i in range(start, len(lines)) if lines[i].startswith(f"{key} =")]
        if found:
            lines[found[0]] = f"{key} = {value}"
        else:
            lines.insert(start + 1, f"{key} = {value}")
        text = "\n".join(lines) + "\n"
    path = tmp_path / "annotator.cfg"
    path.write_text(text)
    return path


def loop_settings(corpus: Path, tmp_path: Path, server: SimulatedLLMServer, **extra):
    base = {"loop.lang": "tsn", "paths.corpus": str(corpus), "paths.runs": str(tmp_path / "runs"),
            "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "24",
            "annotator.config": str(annotator_config(tmp_path)), "annotator.endpoint": server.url,
            "annotator.cache_path": str(tmp_path / "cache.sqlite"), "annotator.batch_size": 8,
            "loop.audit": "none"}  # the audit asks about seed sentences: tests/test_label_policy.py covers it
    base.update(extra)
    return base


@pytest.fixture(scope="module")
def faulty_run(small_corpus, tmp_path_factory):
    """One loop round annotated by the simulated LLM with 20% of requests faulty (every kind of fault)."""
    tmp_path = tmp_path_factory.mktemp("llm-run")
    simulated = SimulatedLLM(gold_from(small_corpus / "train.spacy"), fault_rate=0.2, timeout_sleep=1.0, seed=1)
    with SimulatedLLMServer(simulated) as server:
        result = run_loop(ROOT / "configs" / "loop.cfg",
                          loop_settings(small_corpus, tmp_path, server, **{"loop.query_size": str(QUERY)}),
                          FAST_TRAINING, annotator="openai-compatible")
    return tmp_path / "runs" / result["run"], result, simulated


def test_loop_completes_at_20_percent_faults_with_every_fault_counted(faulty_run, small_corpus):
    run, result, simulated = faulty_run
    faults = Counter(entry["fault"] for entry in simulated.log if entry["fault"])
    assert sum(faults.values()) >= 8 and faults.keys() & TRANSIENT and faults.keys() - TRANSIENT
    annotation = result["rounds"][1]["annotation"]
    assert annotation["n_requested"] == QUERY and annotation["n_unanswered"] == 0
    assert annotation["n_received"] + annotation["n_dropped"] == QUERY
    assert sum(annotation["drop_reasons"].values()) == annotation["n_dropped"]
    usage = annotation["usage"]
    injected = sum(faults[f] for f in TRANSIENT)
    # every transient fault is a counted retry; a loaded machine may add real timeouts, which the server saw
    # (and answered too late) or never logged
    real_timeouts = usage["retries"] - injected
    assert real_timeouts >= 0, "every transient fault is a counted retry"
    assert 0 <= len(simulated.log) - injected - usage["answered"] <= real_timeouts
    # the openai-compatible config's model, "local-model", is priced as the table's zero-price "local" entry
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0 and usage["cost_usd"] == 0.0
    problems = annotation["problems"]
    assert problems.get("unknown_tag", 0) == faults["unknown_tag"]
    assert problems.get("length_mismatch", 0) == faults["skip_token"] + faults["extra_token"]
    assert problems.get("truncated_json", 0) >= faults["truncated"]
    assert result["rounds"][1]["n_annotated"] == annotation["n_received"]


def test_no_sentence_is_silently_mislabelled(faulty_run, small_corpus):
    """The server answers gold (faults aside); under the `drop` policy every label kept must be exactly gold."""
    run, _, _ = faulty_run
    gold = {sentence_id(doc): doc_tags(doc) for doc in load_docs(small_corpus / "train.spacy")}
    records = [json.loads(line) for line in (run / "round-01" / "annotations.jsonl").read_text().splitlines()]
    assert len(records) == QUERY
    for record in records:
        if record["tags"] is not None:
            assert record["tags"] == gold[record["id"]], record["id"]
        else:
            assert record["error"]


def test_labels_carry_provenance(faulty_run):
    run, _, _ = faulty_run
    tasks = [t for t in srsly.read_jsonl(run / "round-01" / "labelled.jsonl") if t["meta"]["round"] == 1]
    assert tasks
    for task in tasks:
        meta = task["meta"]
        assert meta["source"] == "llm:local-model" and meta["model"] == "local-model"
        assert len(meta["prompt_hash"]) == 16 and meta["request_id"].startswith("sim-")
        assert "problems" in meta and "repairs" in meta
    ledger = [json.loads(line) for line in (run / "llm-usage.jsonl").read_text().splitlines()]
    assert all(r["context"]["round"] == 1 for r in ledger)
    assert (run / "seed.jsonl").exists()


def test_prompts_use_the_seed_as_examples_never_the_test_split(faulty_run, small_corpus):
    run, _, simulated = faulty_run
    seed_sentences = {" ".join(t["text"] for t in task["tokens"]) for task in srsly.read_jsonl(run / "seed.jsonl")}
    test_sentences = {doc.text for doc in load_docs(small_corpus / "test.spacy")}
    asked = {s for entry in simulated.log for s in entry["sentences"]}
    assert not asked & seed_sentences and not asked & test_sentences


def test_budget_stops_annotation_cleanly(small_corpus, tmp_path):
    simulated = SimulatedLLM(gold_from(small_corpus / "train.spacy"))
    with SimulatedLLMServer(simulated) as server:
        settings = loop_settings(small_corpus, tmp_path, server, **{"annotator.budget_tokens": 6000,
                                                                    "annotator.concurrency": 1, "loop.rounds": 2})
        result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="openai-compatible")
    rounds = result["rounds"]
    assert len(rounds) == 2, "the loop trains on what it has and stops before the next round"
    annotation = rounds[1]["annotation"]
    assert 0 < annotation["n_received"] < 24 and annotation["n_unanswered"] > 0
    assert annotation["usage"]["budget_refused"] > 0
    assert rounds[1]["n_labelled"] == 24 + annotation["n_received"]


def test_a_spent_budget_refuses_once_and_still_gives_cached_answers(small_corpus, tmp_path):
    """Once the budget has refused, prompts the cache cannot answer are refused without a ledger record each (a large
    round would otherwise leave one per prompt), and cached answers are still given, free, in a later run."""
    from spacy_llm_loop.annotators.base import AnnotationContext, AnnotationRequest
    from spacy_llm_loop.annotators.llm import LLMAnnotator

    docs = load_docs(small_corpus / "train.spacy")
    requests = [AnnotationRequest(f"s{i}", [t.text for t in doc]) for i, doc in enumerate(docs)]
    ledger = tmp_path / "run" / "llm-usage.jsonl"

    def run(server):
        annotator = LLMAnnotator("openai-compatible", "openai-compatible", "tsn", cache_path=str(tmp_path / "c.sqlite"),
                                 overrides={"endpoint": server.url, "budget_tokens": 6000, "concurrency": 1})
        annotator.prepare(AnnotationContext(run_dir=tmp_path / "run", seed_path=small_corpus / "dev.spacy",
                                            lang="tsn"))
        return annotator, [a.id for a in annotator(requests)]

    with SimulatedLLMServer(SimulatedLLM(gold_from(small_corpus / "train.spacy"))) as server:
        annotator, first = run(server)
        records = [json.loads(line) for line in ledger.read_text().splitlines()]
        assert annotator.budget_exhausted and 0 < len(first) < len(docs)
        assert [r["outcome"] for r in records].count("budget_refused") == 1, "one refusal, not one per prompt"
        again, second = run(server)  # the same budget, spent: only what the cache holds
        assert second == first and len(server.simulated.log) == sum(r["outcome"] == "ok" for r in records)
    later = [json.loads(line) for line in ledger.read_text().splitlines()][len(records):]
    assert {r["outcome"] for r in later} == {"cache_hit"} and again.budget_exhausted


def test_spacy_ner_v3_task_as_annotator(small_corpus, tmp_path):
    """spacy-llm's own NER prompt works in the same slot (answers parsed by spacy-llm, tags from doc.ents)."""
    simulated = SimulatedLLM(gold_from(small_corpus / "train.spacy"))
    config = (PACKAGED / "ner-v3.cfg").read_text().replace("endpoint = null", "endpoint = \"x\"")
    (tmp_path / "ner-v3.cfg").write_text(config)
    with SimulatedLLMServer(simulated) as server:
        settings = loop_settings(small_corpus, tmp_path, server, **{"annotator.config": str(tmp_path / "ner-v3.cfg"),
                                                                    "loop.rounds": 1, "loop.query_size": "8"})
        result = run_loop(ROOT / "configs" / "loop.cfg", settings, {**FAST_TRAINING, "training.max_steps": 40},
                          annotator="ner-v3")
    annotation = result["rounds"][1]["annotation"]
    assert annotation["n_received"] == 8 and annotation["token_accuracy"] > 0.9
    assert {entry["kind"] for entry in simulated.log} == {"ner.v3"}


def _lines(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_kill_during_annotation_never_asks_twice(small_corpus, tmp_path, python):
    """kill -9 while requests are in flight; the rerun asks again only what never reached the client.

    An answer the server sent as the client died (at most one per concurrent request) was never received, so
    asking for it again is right; everything received (cached) before the kill must not be asked again.
    """
    simulated = SimulatedLLM(gold_from(small_corpus / "train.spacy"), latency=0.3)
    with SimulatedLLMServer(simulated) as server:
        settings = loop_settings(small_corpus, tmp_path, server, **{"annotator.concurrency": 2,
                                                                    "annotator.batch_size": 4})
        args = [python, "-m", "spacy_llm_loop", "loop", "--annotator", "openai-compatible"]
        args += [a for k, v in settings.items() for a in (f"--{k}", str(v))]
        args += [a for k, v in FAST_TRAINING.items() for a in (f"--learner.{k}", str(v))]
        # the default label policy's run name
        run = tmp_path / "runs" / "tsn-openai-compatible-entropy-lp-disagree-both-gold3-seed0"
        answers = run / "round-01" / "annotations.jsonl"
        proc = subprocess.Popen(args, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        start = time.time()
        while len(_lines(answers)) < 4:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.time() - start < 180
            time.sleep(0.02)
        time.sleep(0.35)  # let more requests complete (cached) than are written to the annotation log
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        first = len(simulated.log)
        answered = {s for n in simulated.answered for s in simulated.log[n]["sentences"]}
        assert 4 <= len(answered) < 24
        # what reached the client before the kill: the cached responses, by the server's request ids
        with sqlite3.connect(tmp_path / "cache.sqlite") as db:
            received = {int(rid.rsplit("-", 1)[1]) for (rid,) in db.execute("SELECT request_id FROM responses")}
        assert received <= set(simulated.answered)
        # an answer the server sent as the client died was never received: at most one per concurrent request
        lost = set(simulated.answered) - received
        assert len(lost) <= 2
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    asked_again = [s for entry in simulated.log[first:] for s in entry["sentences"]]
    kept = {s for n in received for s in simulated.log[n]["sentences"]}
    assert not kept & set(asked_again), "a sentence whose answer was received was requested again"
    assert answered & set(asked_again) <= {s for n in lost for s in simulated.log[n]["sentences"]}
    assert len(asked_again) == len(set(asked_again))
    assert len({s for entry in simulated.log for s in entry["sentences"]}) == 24 and len(_lines(answers)) == 24
