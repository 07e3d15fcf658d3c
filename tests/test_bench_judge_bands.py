"""bench/judge_bands.py: the LLM's entities scored against gold, by the judging learner's probability and type."""
import pytest
import spacy
import srsly
from spacy.tokens import DocBin, Span

from spacy_llm_loop.data.docs import make_doc, set_task

from .helpers.bench import bench_module

bench = bench_module("judge_bands")


@pytest.mark.parametrize("p, expected", [(0.0, "p = 0"), (0.01, "0 < p < 0.05"), (0.05, "0.05 ≤ p < 0.2"),
                                         (0.2, "0.2 ≤ p < 0.5"), (0.5, "p ≥ 0.5"), (1.0, "p ≥ 0.5")])
def test_bands_split_at_the_thresholds_a_policy_uses(p, expected) -> None:
    assert bench.band(p) == expected


def _corpus(root) -> None:
    nlp = spacy.blank("xx")
    docs = []
    for sid, words, ents in [("s1", ["Ama", "Zulu", "went"], [(0, 2, "PER")]),
                             ("s2", ["in", "Durban", "today"], [(1, 2, "LOC"), (2, 3, "DATE")])]:
        doc = make_doc(nlp.vocab, words)
        doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
        set_task(doc, {"meta": {"sentence_id": sid}})
        docs.append(doc)
    (root / "tsn").mkdir(parents=True)
    DocBin(docs=docs, store_user_data=True).to_disk(root / "tsn" / "train.spacy")


def test_entities_are_counted_right_only_on_exact_span_and_type(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    run = tmp_path / "runs" / bench.folder("tsn", bench.LLM, "disagree-gold3", "entropy", 0)
    (run / "round-01").mkdir(parents=True)
    srsly.write_json(run / "loop.json", {"audit": {"unreliable": ["DATE"]}})
    srsly.write_jsonl(run / "round-01" / "judged.jsonl", [
        {"id": "s1", "llm": [[0, 2, "PER", 0.0], [2, 3, "ORG", 0.0]], "learner": []},  # right, spurious
        {"id": "s2", "llm": [[1, 2, "LOC", 0.9], [1, 3, "DATE", 0.1]], "learner": []}])  # right, wrong extent
    text = "\n".join(bench.lang_lines(tmp_path / "runs", tmp_path / "corpus", "tsn", "disagree-gold3", [0, 1]))
    assert "Seeds 0, rounds 1-5 pooled" in text  # seed 1 has no run
    assert "| PER | 100% (1) | - | - | - | - | 0 of 1 seeds |" in text
    assert "| DATE | - | - | 0% (1) | - | - | 1 of 1 seeds |" in text
    assert "| all | 50% (2) | - | 0% (1) | - | 100% (1) | - |" in text


def test_a_judged_sentence_missing_from_gold_names_its_line(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    (run / "round-01").mkdir(parents=True)
    judged = [{"id": "s1", "llm": [], "learner": []}, {"id": "nope", "llm": [], "learner": []}]
    srsly.write_jsonl(run / "round-01" / "judged.jsonl", judged)
    with pytest.raises(SystemExit, match=r"judged.jsonl:2: sentence 'nope'"):
        bench.count(run, bench.gold_spans(tmp_path / "corpus", "tsn"))
