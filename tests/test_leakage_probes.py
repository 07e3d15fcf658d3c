"""Memorisation probes (quiz, labels, source, completion, verdict) validated on PLANTED memorisation.

The memorising SIMULATED endpoint (``spacy_llm_loop.simulate.memorising``) knows a planted share p of
the sentences; the probes must estimate p within their intervals, through the real HTTP ChatModel, and
flag p = 0 no more often than alpha.
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pytest

from spacy_llm_loop.data.iob import iob_problems, iob_to_spans
from spacy_llm_loop.leakage.probes import prompts
from spacy_llm_loop.leakage.probes.client import complete_with, probe_model
from spacy_llm_loop.leakage.probes.completion import canonical_words, compare, completion_probe, rouge_l
from spacy_llm_loop.leakage.probes.perturb import TEXT_KINDS, tag_distractors, text_distractors
from spacy_llm_loop.leakage.probes.quiz import balanced_positions, label_quiz, parse_letter, text_quiz
from spacy_llm_loop.leakage.probes.sample import load_sentences
from spacy_llm_loop.leakage.probes.source import OTHER, classify_source, source_probe
from spacy_llm_loop.leakage.probes.stats import proportion, share_from_rate
from spacy_llm_loop.leakage.probes.verdict import DETECTED, INCONCLUSIVE, NO_EVIDENCE, verdict
from spacy_llm_loop.simulate.memorising import MemorisingLLM, MemorisingServer

SYLLABLES = ["ba", "ka", "mo", "tse", "ng", "di", "la", "re", "go", "pe", "su", "wa", "ri", "ko", "ne", "ɛ", "ọ́"]
LABELS = ["PER", "ORG", "LOC", "DATE"]


def synthetic(n: int, seed: int = 0) -> List[Tuple[List[str], List[str]]]:
    """``n`` random sentences (8-19 tokens, entities of 1-3 tokens, a final full stop)."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n):
        length = int(rng.integers(8, 20))
        tokens = ["".join(rng.choice(SYLLABLES, size=int(rng.integers(1, 4)))) for _ in range(length - 1)] + ["."]
        tags, i = ["O"] * length, 0
        while i < length - 1:
            if rng.random() < 0.15:
                label, size = str(rng.choice(LABELS)), int(rng.integers(1, 4))
                for j in range(i, min(length - 1, i + size)):
                    tags[j] = ("B-" if j == i else "I-") + label
                i += size + 1
            else:
                i += 1
        sentences.append((tokens, tags))
    return sentences


SENTENCES = synthetic(500)
PROBES = ("text_quiz", "label_quiz", "source", "completion")


def run_probes(sentences: Sequence, complete: Any, n: int, seed: int) -> Dict[str, Dict[str, Any]]:
    return {"text_quiz": text_quiz(sentences, complete, lang="tsn", n=n, seed=seed),
            "label_quiz": label_quiz(sentences, complete, lang="tsn", n=n, seed=seed),
            "source": source_probe(sentences, complete, lang="tsn", n=n, seed=seed),
            "completion": completion_probe(sentences, complete, lang="tsn", n=n, seed=seed)}


# --- perturbations --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_text_distractors_differ_from_original_and_each_other(seed):
    rng = np.random.default_rng(seed)
    for tokens, _ in SENTENCES[:100] + [(["a", "b", "a", "b"], ["O"] * 4)]:
        found = text_distractors(tokens, rng)
        assert found is not None and [kind for kind, _ in found] == list(TEXT_KINDS)
        texts = {" ".join(t) for _, t in found}
        assert len(texts) == 3 and " ".join(tokens) not in texts


def test_text_distractors_refuse_sentences_that_cannot_change():
    assert text_distractors(["a", "a", "a"], np.random.default_rng(0)) is None


@pytest.mark.parametrize("seed", range(5))
def test_tag_distractors_are_valid_iob2_and_distinct(seed):
    rng = np.random.default_rng(seed)
    made = 0
    for tokens, tags in SENTENCES[:150]:
        found = tag_distractors(tags, rng)
        if found is None:
            continue
        made += 1
        kinds = [kind for kind, _ in found]
        assert kinds[:2] == ["boundary_shift", "type_swap"]
        assert kinds[2] == ("date_extent" if "B-DATE" in tags else "extent_change")
        seqs = {" ".join(t) for _, t in found}
        assert len(seqs) == 3 and " ".join(tags) not in seqs
        for _, variant in found:
            assert len(variant) == len(tags) and not iob_problems(variant)
        swapped = found[1][1]
        assert [(s, e) for s, e, _ in iob_to_spans(swapped)] == [(s, e) for s, e, _ in iob_to_spans(tags)]
        if "B-DATE" in tags:  # the extent change acts on a DATE entity
            changed = set(iob_to_spans(found[2][1])) ^ set(iob_to_spans(tags))
            assert any(label == "DATE" for _, _, label in changed)
    assert made > 50


def test_tag_distractors_need_an_entity():
    assert tag_distractors(["O", "O", "O"], np.random.default_rng(0)) is None


# --- parsers and statistics -----------------------------------------------------------------------------

@pytest.mark.parametrize("answer,letter", [
    ("B", "B"), (" (C)", "C"), ("Answer: D", "D"), ("**A**", "A"), ("The answer is B.", "B"),
    ("D) Kgosi o ne a tsamaya", "D"), ("I think option C is right", "C"), ("E) None of the provided options.", "E"),
    ("a sentence", None), ("", None), ("Either A) or B)", None)])
def test_parse_letter(answer, letter):
    assert parse_letter(answer) == letter


@pytest.mark.parametrize("answer,source", [
    ("MasakhaNER 2.0", "MasakhaNER 2.0"), ("This is from masakhaner2.", "MasakhaNER 2.0"),
    ("MasakhaNER (v2)", "MasakhaNER 2.0"), ("MasakhaNER 1.0 (Adelani et al., 2021)", "MasakhaNER 1.0"),
    ("the MasakhaNER dataset", "MasakhaNER (no version)"), ("CoNLL-2003", "CoNLL-2003"),
    ("conll03 English", "CoNLL-2003"), ("WikiANN (PAN-X)", "WikiAnn"), ("unknown", OTHER),
    ("OntoNotes 5.0", OTHER)])
def test_classify_source(answer, source):
    assert classify_source(answer) == source


def test_completion_similarity():
    assert canonical_words("Gaborone , Botswana .") == ["gaborone", "botswana"]
    exact = compare("Gaborone, Botswana. And then more words", "Gaborone , Botswana .")
    assert exact["exact"] and exact["edit"] == 1.0 and exact["rouge_l"] == 1.0
    near = compare("Gaborone Botswanna", "Gaborone , Botswana .")
    assert near["near_exact"] and not near["exact"]
    assert not compare("something else entirely", "Gaborone , Botswana .")["near_exact"]
    assert rouge_l(["a", "b", "c"], ["a", "c"]) == pytest.approx(2 * 2 / 5)


def test_share_from_rate_inverts_the_chance_mixture():
    p, chance = 0.3, 0.25
    rate = {"value": p + (1 - p) * chance, "interval": {"low": chance, "high": 1.0, "level": 0.95}}
    share = share_from_rate(rate, chance)
    assert share["estimate"] == pytest.approx(p) and share["low"] == 0.0 and share["high"] == 1.0
    assert proportion(0, 0)["value"] is None


def test_positions_are_balanced():
    counts = np.bincount(balanced_positions(102, np.random.default_rng(0)), minlength=4)
    assert counts.max() - counts.min() <= 1


# --- planted memorisation through the real HTTP client --------------------------------------------------

@pytest.mark.parametrize("planted", [0.0, 0.1, 0.5])
def test_probes_recover_planted_share_over_http(planted, tmp_path: Path):
    llm = MemorisingLLM(SENTENCES, planted, seed=1)
    with MemorisingServer(llm) as server:
        model = probe_model("openai-compatible", endpoint=server.url, cache_path=str(tmp_path / "cache.sqlite"),
                            ledger_path=str(tmp_path / "ledger.jsonl"), interval=0.01)
        results = run_probes(SENTENCES, complete_with(model, "leakage"), n=120, seed=2)
    sent = llm.requests
    json.dumps(results)  # JSON-serialisable
    for name in PROBES:
        share = results[name]["memorised_share"]
        assert results[name]["n"] == 120 and results[name]["failed"] == 0, name
        assert share["low"] <= planted <= share["high"], (name, share)
    decision = verdict({"tsn": results})
    if planted == 0.0:
        assert decision["overall"] != DETECTED
    if planted == 0.5:
        assert decision["overall"] == DETECTED
    assert results == run_probes(SENTENCES, llm.complete, n=120, seed=2)  # HTTP changed nothing
    records = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert len(records) == sent == 600 and all(r["context"] == {"probe": "leakage"} for r in records)


def test_probe_model_is_the_annotators_model_at_temperature_zero(tmp_path: Path, monkeypatch):
    model = probe_model("openai-compatible", endpoint="http://127.0.0.1:9/v1/chat/completions",
                        cache_path=str(tmp_path / "c.sqlite"), ledger_path=str(tmp_path / "l.jsonl"))
    assert type(model).__name__ == "ChatModel" and model.name == "local-model"
    assert model.params["temperature"] == 0.0 and not model.params["json_mode"]
    assert model.cache is not None and model.cache.path == tmp_path / "c.sqlite"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        probe_model("gpt-4-turbo")
    text = prompts_config().replace('"spacy-llm-loop.OpenAIChat.v1"', '"spacy.GPT-4.v3"')
    (tmp_path / "stock.cfg").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="spacy.GPT-4.v3"):
        probe_model(str(tmp_path / "stock.cfg"))


def prompts_config() -> str:
    from spacy_llm_loop.package_data import annotator_config_text

    return annotator_config_text("openai-compatible")


def test_cached_probe_answers_cost_nothing_the_second_time(tmp_path: Path):
    llm = MemorisingLLM(SENTENCES, 0.5, seed=1)
    with MemorisingServer(llm) as server:
        model = probe_model("openai-compatible", endpoint=server.url, cache_path=str(tmp_path / "cache.sqlite"))
        first = text_quiz(SENTENCES, complete_with(model), lang="tsn", n=40, seed=3)
        sent = llm.requests
        again = text_quiz(SENTENCES, complete_with(model), lang="tsn", n=40, seed=3)
    assert llm.requests == sent == 40 and again == first


# --- error rates and coverage over many simulated replicates (in process) -------------------------------

def test_no_memorisation_is_flagged_at_most_alpha_of_the_time():
    alpha, replicates, flagged = 0.05, 200, 0
    for r in range(replicates):
        llm = MemorisingLLM(SENTENCES, 0.0, seed=100 + r)
        results = {name: result for name, result in run_probes(SENTENCES, llm.complete, n=40, seed=r).items()
                   if name != "source"}
        flagged += verdict({"tsn": results}, alpha=alpha)["overall"] == DETECTED
    assert flagged / replicates <= alpha  # in expectation; Bonferroni + discrete tests make it well below


@pytest.mark.parametrize("planted", [0.1, 0.5])
def test_quiz_intervals_cover_the_planted_share(planted):
    covered = {"text_quiz": 0, "label_quiz": 0}
    replicates = 100
    for r in range(replicates):
        llm = MemorisingLLM(SENTENCES, planted, seed=500 + r)
        covered["text_quiz"] += _covers(text_quiz(SENTENCES, llm.complete, lang="tsn", n=60, seed=r), planted)
        covered["label_quiz"] += _covers(label_quiz(SENTENCES, llm.complete, lang="tsn", n=60, seed=r), planted)
    for name, k in covered.items():
        assert k / replicates >= 0.88, (name, k)  # 95% intervals (Clopper-Pearson: at least nominal)


def _covers(result: Dict[str, Any], planted: float) -> bool:
    share = result["memorised_share"]
    return share["low"] <= planted <= share["high"]


# --- verdict rule ---------------------------------------------------------------------------------------

def _result(p_value: float, high: float) -> Dict[str, Any]:
    return {"test": {"p_value": p_value}, "memorised_share": {"high": high}}


def test_verdict_holm_across_languages():
    results = {"bam": {"text_quiz": _result(0.004, 0.5), "completion": _result(0.5, 0.05)},
               "tsn": {"text_quiz": _result(0.02, 0.3)},
               "zul": {"text_quiz": _result(0.6, 0.05), "label_quiz": _result(0.9, 0.08)}}
    out = verdict(results, alpha=0.05, max_share=0.1)
    assert out["languages"]["bam"]["p_value"] == pytest.approx(0.008)  # Bonferroni over its 2 probes
    assert out["languages"]["bam"]["p_holm"] == pytest.approx(0.024)  # Holm: 3 * 0.008
    assert out["languages"]["bam"]["verdict"] == DETECTED
    assert out["languages"]["tsn"]["p_holm"] == pytest.approx(0.04) and out["languages"]["tsn"]["verdict"] == DETECTED
    assert out["languages"]["zul"]["verdict"] == NO_EVIDENCE and out["overall"] == DETECTED
    quiet = verdict({"zul": results["zul"], "tsn": {"text_quiz": _result(0.5, 0.4)}})
    assert quiet["languages"]["tsn"]["verdict"] == INCONCLUSIVE and quiet["overall"] == INCONCLUSIVE
    with pytest.raises(ValueError, match="no result"):
        verdict({"tsn": {"source": _result(0.0, 1.0)}})


# --- real MasakhaNER sentences --------------------------------------------------------------------------

def test_probes_on_real_sentences(small_corpus: Path):
    sentences = load_sentences(small_corpus / "train.spacy")
    llm = MemorisingLLM(sentences, 0.5, seed=7)
    quiz = label_quiz(sentences, llm.complete, lang="tsn", n=100, seed=0, tagging_accuracy=0.4)
    text = text_quiz(sentences, llm.complete, lang="tsn", n=100, seed=0)
    done = completion_probe(sentences, llm.complete, lang="tsn", n=100, seed=0)
    for result in (quiz, text, done):
        assert result["n"] >= 60 and result["test"]["p_value"] < 0.01
        asked = [sentences[row["index"]][0] for row in result["items"]]
        realised = float(np.mean([llm.memorised(tokens) for tokens in asked]))  # this sample's planted share
        assert result["memorised_share"]["low"] <= realised <= result["memorised_share"]["high"]
    assert done["memorised_share"]["estimate"] == pytest.approx(realised)  # exact completions: no guessing
    assert quiz["skill"]["skill_explained_rate"] == pytest.approx(0.4 + 0.6 * 0.25)
    assert prompts.MARK_LABEL_QUIZ in prompts.LABEL_QUIZ
