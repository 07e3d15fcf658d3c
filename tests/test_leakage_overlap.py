"""Exact and near-duplicate sentences between sets, the leakage errors, and a run folder's sets."""
import json
import unicodedata
from pathlib import Path

import pytest
import srsly

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import get_meta, get_task, set_task
from spacy_llm_loop.data.prodigy import doc_to_task
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.leakage.normalise import jaccard, normalise, shingles
from spacy_llm_loop.leakage.overlap import OverlapSettings, Sentence, check_leakage, find_overlaps, overlap_report
from spacy_llm_loop.leakage.overlap_run import check_run, corpus_overlap, run_sets

# 44 distinct characters, so its 5-grams are all distinct (40 of them) and Jaccards are simple fractions.
UNIQUE = "abcdefghijklmnopqrstuvwxyz0123456789αβγδεζηθ"


@pytest.mark.parametrize("a,b", [
    ("Rre Masisi o tsamaile Gaborone .", "rre  MASISI, o tsamaile Gaborone"),
    (unicodedata.normalize("NFD", "Ghomálá' wa é"), "GHOMÁLÁ WA É"),
    ("Ke  ikutlwa\tke siame !", "ke ikutlwa ke siame"),
])
def test_normalise_equal(a, b):
    assert normalise(a) == normalise(b)


@pytest.mark.parametrize("a,b", [("kɛ", "ke"), ("à", "a"), ("2024", "2025"), ("aʼa", "aa")])
def test_normalise_keeps_diacritics_digits_and_modifier_letters(a, b):
    assert normalise(a) != normalise(b)


def test_shingles_and_jaccard():
    assert shingles("abcdef") == {"abcde", "bcdef"}
    assert shingles("abc") == {"abc"} and shingles("") == set()
    assert jaccard(shingles(UNIQUE), shingles(UNIQUE[:36])) == 32 / 40
    assert jaccard(set(), set()) == 0.0


def test_exact_duplicate_after_normalisation():
    sets = {"a": [Sentence("a1", "Rre Masisi o tsamaile Gaborone .")],
            "b": [Sentence("b1", "rre MASISI , o tsamaile  Gaborone"), Sentence("b2", "Ga go sepe .")]}
    (overlap,) = find_overlaps(sets)
    assert (overlap.left.id, overlap.right.id, overlap.kind, overlap.similarity) == ("a1", "b1", "exact", 1.0)


def test_near_duplicates_at_known_jaccard():
    # UNIQUE[:36]: 32 of the 40 shingles, J = 0.8 (the threshold, included); UNIQUE[:35]: J = 31/40 = 0.775
    # (below); UNIQUE[4:]: J = 36/40 = 0.9; 24 and 25 characters are short (< 30): exact only, though J = 20/21.
    sets = {"a": [Sentence("long", UNIQUE), Sentence("short", UNIQUE[:25])],
            "b": [Sentence("at", UNIQUE[:36]), Sentence("below", UNIQUE[:35]), Sentence("above", UNIQUE[4:]),
                  Sentence("short-near", UNIQUE[:24])]}
    found = {(o.left.id, o.right.id): (o.kind, o.similarity) for o in find_overlaps(sets)}
    assert found == {("long", "above"): ("near", 0.9), ("long", "at"): ("near", 0.8)}


def test_report_counts_sizes_and_items():
    settings = OverlapSettings(max_items=1, preview_chars=10)
    sets = {"a": [Sentence("long", UNIQUE), Sentence("x", "Ga go sepe .")],
            "b": [Sentence("at", UNIQUE[:36]), Sentence("above", UNIQUE[4:]), Sentence("y", "ga go sepe")],
            "c": []}
    report = overlap_report(sets, settings)
    json.dumps(report)
    assert report["sizes"] == {"a": 2, "b": 3, "c": 0}
    assert list(report["pairs"]) == ["a|b", "a|c", "b|c"]
    ab = report["pairs"]["a|b"]
    assert ab["exact"] == {"pairs": 1, "left": 1, "right": 1}
    assert ab["near"] == {"pairs": 2, "left": 1, "right": 2}
    assert ab["items"] == [{"kind": "exact", "similarity": 1.0, "left_id": "x", "right_id": "y",
                            "left_text": "Ga go sep…", "right_text": "ga go sepe"}]
    assert report["settings"]["threshold"] == 0.8 and "within" not in report


def test_within_a_set():
    sets = {"train": [Sentence("t1", UNIQUE), Sentence("t2", UNIQUE + "."), Sentence("t3", UNIQUE[4:])]}
    within = overlap_report(sets, within=True)["within"]["train"]
    assert within["exact"] == {"pairs": 1, "sentences": 2}
    assert within["near"] == {"pairs": 2, "sentences": 3}


def test_examples_from_test_are_an_error_naming_the_item():
    sets = {"examples": [Sentence("tsn-test-00001", "Ga go sepe .", "test"), Sentence("tsn-train-00007", UNIQUE[4:])],
            "seed": [Sentence("tsn-train-00007", UNIQUE[4:], "train")], "pool": [],
            "test": [Sentence("tsn-test-00001", "Ga go sepe .", "test"), Sentence("tsn-test-00002", UNIQUE, "test")]}
    result = check_leakage(sets)
    assert result["leakage"] is True
    error = result["errors"]["examples_from_test"]
    assert error["count"] == 2
    assert [(i["id"], i["reason"], i["test_id"], i["similarity"]) for i in error["items"]] == [
        ("tsn-test-00001", "test_split", None, None), ("tsn-train-00007", "near", "tsn-test-00002", 0.9)]
    training = result["errors"]["test_in_training"]
    assert {(i["set"], i["id"]) for i in training["items"]} == {
        ("examples", "tsn-test-00001"), ("examples", "tsn-train-00007"), ("seed", "tsn-train-00007")}
    json.dumps(result)


def test_test_sentence_in_pool_is_an_error():
    sets = {"examples": [], "seed": [], "pool": [Sentence("tsn-train-00003", "Rre Masisi o tsamaile Gaborone .")],
            "test": [Sentence("tsn-test-00009", "rre masisi o tsamaile gaborone", "test")]}
    result = check_leakage(sets)
    assert result["errors"]["examples_from_test"]["count"] == 0
    (item,) = result["errors"]["test_in_training"]["items"]
    assert (item["set"], item["id"], item["reason"], item["test_id"]) == ("pool", "tsn-train-00003", "exact",
                                                                          "tsn-test-00009")


def test_clean_sets_have_no_error():
    sets = {"examples": [Sentence("e", "Ga go sepe .", "train")], "seed": [Sentence("e", "Ga go sepe .", "train")],
            "pool": [Sentence("p", UNIQUE, "train")], "test": [Sentence("t", UNIQUE[:35], "test")]}
    result = check_leakage(sets)
    assert result["leakage"] is False
    assert all(error == {"count": 0, "items": []} for error in result["errors"].values())
    assert result["pairs"]["examples|seed"]["exact"]["pairs"] == 1  # the examples are seed sentences


def test_missing_set_is_named():
    with pytest.raises(KeyError, match="'pool'"):
        check_leakage({"examples": [], "seed": [], "test": []})


# -- run folders and corpora ----------------------------------------------------------------------------------
def _write_seed(run: Path, docs) -> None:
    run.mkdir(parents=True, exist_ok=True)
    srsly.write_jsonl(run / "seed.jsonl", [doc_to_task(doc) for doc in docs])


def _write_annotations(run: Path, k: int, records, tail: str = "") -> None:
    (run / f"round-{k:02d}").mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records) + tail
    (run / f"round-{k:02d}" / "annotations.jsonl").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def corpus_docs(small_corpus):
    return {split: load_docs(small_corpus / f"{split}.spacy") for split in ("train", "dev", "test")}


def test_clean_run_folder(small_corpus, corpus_docs, tmp_path):
    train = corpus_docs["train"]
    _write_seed(tmp_path, train[:10])
    _write_annotations(tmp_path, 1, [{"id": f"tsn-train-{i:05d}", "tags": ["O"]} for i in range(20, 25)]
                       + [{"id": "tsn-train-00025", "tags": None, "error": "length_mismatch x1"}])
    _write_annotations(tmp_path, 2, [{"id": "tsn-train-00030", "tags": ["O"]}], tail='{"id": "tsn-tr')
    gathered = run_sets(tmp_path, small_corpus)
    sizes = {name: len(items) for name, items in gathered.sets.items()}
    assert sizes == {"examples": 2, "seed": 10, "pool": 6, "dev": 60, "test": 60}
    seed_ids = {s.id for s in gathered.sets["seed"]}
    assert {s.id for s in gathered.sets["examples"]} <= seed_ids
    assert [s.text for s in gathered.sets["pool"]][:1] == [train[20].text]
    assert "tsn-train-00025" not in {s.id for s in gathered.sets["pool"]}
    assert any("cut short" in note for note in gathered.notes)
    assert len(run_sets(tmp_path, small_corpus, include_dropped=True).sets["pool"]) == 7

    result = check_run(tmp_path, small_corpus)
    json.dumps(result)
    assert result["leakage"] is False and result["sizes"]["pool"] == 6


def test_run_with_test_sentences_in_seed_and_pool(small_corpus, corpus_docs, tmp_path):
    _write_seed(tmp_path, corpus_docs["train"][:5] + corpus_docs["test"][:1])
    _write_annotations(tmp_path, 1, [{"id": "tsn-train-00020", "tags": ["O"]}, {"id": "tsn-test-00004", "tags": ["O"]}])
    result = check_run(tmp_path, small_corpus)
    assert result["leakage"] is True
    assert result["sizes"]["examples"] == 0 and "refuses" in result["notes"][0]
    offenders = {(i["set"], i["id"], i["reason"]) for i in result["errors"]["test_in_training"]["items"]}
    assert offenders == {("seed", "tsn-test-00000", "test_split"), ("pool", "tsn-test-00004", "test_split")}


def test_run_whose_example_duplicates_a_test_sentence(small_corpus, corpus_docs, tmp_path):
    disguised = corpus_docs["test"][5].copy()  # a test sentence that claims to be a train sentence
    meta = {**get_meta(disguised), "split": "train", "sentence_id": "tsn-train-99999"}
    set_task(disguised, {**get_task(disguised), "meta": meta})
    _write_seed(tmp_path, [disguised] + corpus_docs["train"][:5])
    result = check_run(tmp_path, small_corpus)
    (item,) = result["errors"]["examples_from_test"]["items"]
    assert (item["id"], item["reason"], item["test_id"]) == ("tsn-train-99999", "exact", "tsn-test-00005")


def test_unknown_annotation_id_names_file_and_line(small_corpus, corpus_docs, tmp_path):
    _write_seed(tmp_path, corpus_docs["train"][:3])
    _write_annotations(tmp_path, 1, [{"id": "tsn-train-00020", "tags": ["O"]}, {"id": "nope", "tags": ["O"]}])
    with pytest.raises(InputError, match=r"round-01/annotations.jsonl:2: .*'nope'"):
        run_sets(tmp_path, small_corpus)


def test_corpus_overlap(small_corpus):
    report = corpus_overlap(small_corpus)
    json.dumps(report)
    assert report["sizes"] == {"train": 240, "dev": 60, "test": 60}
    assert list(report["pairs"]) == ["train|dev", "train|test", "dev|test"]
    assert set(report["within"]) == {"train", "dev", "test"} and report["seconds"] >= 0
