"""bench/taught_gold.py: what becomes of the gold entities of the LLM-labelled sentences under a label policy."""
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple

import pytest
import srsly

from .helpers.bench import bench_module, gold_corpus

bench = bench_module("taught_gold")
labels = bench_module("label_policies")


def test_each_gold_entity_falls_in_one_class() -> None:
    gold = {(0, 2, "PER"), (3, 4, "LOC"), (5, 6, "ORG"), (7, 8, "DATE"), (9, 10, "LOC")}
    taught = {(0, 2, "PER"), (7, 9, "DATE"), (11, 12, "ORG")}
    missing = {3, 5}
    removed = {(3, 4, "LOC"), (5, 6, "PER")}  # the answer had LOC right, ORG with the wrong type
    counts = bench.gold_fate(gold, taught, missing, removed)
    assert {k: counts[k] for k in bench.CLASSES} == {"taught": 1, "missing, answer right": 1,
                                                     "missing, answer wrong": 1, "taught wrong": 1, "taught O": 1}
    assert counts["taught entities"] == 3 and counts["taught, not gold"] == 2


def _corpus(root: Path) -> None:
    gold_corpus(root, [("s1", ["Ama", "Zulu", "went"], [(0, 2, "PER")]),
                       ("s2", ["in", "Durban", "today"], [(1, 2, "LOC"), (2, 3, "DATE")]),
                       ("s3", ["Thabo", "left"], [(0, 1, "PER")])])


def _task(sid: str, spans: Sequence[Tuple[int, int, str]], source: str, missing: Sequence[Tuple] = (),
          removed: Sequence[Tuple] = (), split: str = "train") -> Dict[str, Any]:
    meta = {"sentence_id": sid, "source": source, "learner_split": split}
    if source.startswith("llm"):
        meta["label_policy"] = {"missing": [list(m) for m in missing], "removed": [list(r) for r in removed]}
    return {"spans": [{"token_start": s, "token_end": e - 1, "label": label} for s, e, label in spans], "meta": meta}


def test_a_run_counts_its_llm_training_sentences_only(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    run = tmp_path / "runs" / labels.folder("tsn", labels.LLM, "disagree-gold3", "entropy", 0)
    (run / "round-01").mkdir(parents=True)
    srsly.write_json(run / "loop.json", {"rounds": [{"round": 0}, {"round": 1}]})
    srsly.write_jsonl(run / "round-01" / "labelled.jsonl", [
        _task("s1", [(0, 2, "PER")], "gold"),  # gold: not counted
        _task("s2", [(2, 3, "DATE")], "llm:sim", missing=[(1, 2, "learner-rejects")], removed=[(1, 2, "LOC")]),
        _task("s3", [], "llm:sim", split="dev")])  # the learner's dev data: not taught
    text = "\n".join(bench.lang_lines(tmp_path / "runs", tmp_path / "corpus", "tsn", ["disagree-gold3"], [0, 1], 1))
    row = next(line for line in text.splitlines() if line.startswith("| disagree-gold3 |"))
    assert row.startswith("| disagree-gold3 | 0 | 2 | 50.00 ± 0.00 (n=1) | 50.00 ± 0.00 (n=1) | 0.00 ± 0.00 (n=1)")
    assert row.endswith("| 0.00 ± 0.00 (n=1) |")


def test_a_sentence_outside_the_gold_set_names_file_and_line(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    path = tmp_path / "labelled.jsonl"
    srsly.write_jsonl(path, [_task("s2", [], "llm:sim"), _task("nope", [], "llm:sim")])
    gold = bench.gold_spans(tmp_path / "corpus", "tsn")
    with pytest.raises(SystemExit, match=r"labelled.jsonl:2: sentence 'nope'"):
        bench.count_run(path, gold)


def test_a_malformed_span_or_a_missing_file_names_the_file(tmp_path) -> None:
    _corpus(tmp_path / "corpus")
    gold = bench.gold_spans(tmp_path / "corpus", "tsn")
    path = tmp_path / "labelled.jsonl"
    task = _task("s2", [], "llm:sim")
    task["spans"] = [{"token_start": 1, "label": "LOC"}]  # no token_end
    srsly.write_jsonl(path, [_task("s1", [], "llm:sim"), task])
    with pytest.raises(SystemExit, match=r"labelled.jsonl:2: a span or a label policy range is malformed"):
        bench.count_run(path, gold)
    with pytest.raises(SystemExit, match=r"absent.jsonl: not found"):
        bench.count_run(tmp_path / "absent.jsonl", gold)
