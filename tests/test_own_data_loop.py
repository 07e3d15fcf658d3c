"""The loop on a corpus of one's own with gold: a label set of its own, a seed file, dev and test data.

The corpus is the small MasakhaNER tsn sample relabelled (PER -> PERSON, LOC and ORG -> PLACE, DATE -> TIME) and
written as Prodigy JSONL, so the loop's figures can be checked against gold; the annotator is the SIMULATED
GPT-4-Turbo, whose answers must stay inside the three labels.
"""
import json
from pathlib import Path

import pytest
import srsly
from spacy.tokens import Span

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import set_task
from spacy_llm_loop.data.own import prepare_corpus
from spacy_llm_loop.data.prodigy import doc_to_task
from spacy_llm_loop.loop.main import run_loop
from spacy_llm_loop.simulate.annotate import proxy_types

from .conftest import FAST_TRAINING, ROOT

RELABEL = {"PER": "PERSON", "LOC": "PLACE", "ORG": "PLACE", "DATE": "TIME"}
LABELS = {"PERSON": "a person's name", "PLACE": "a place or an organisation", "TIME": "a date or period"}


def _relabelled(path: Path, out: Path, start: int = 0, stop: int = 10 ** 6) -> Path:
    tasks = []
    for doc in load_docs(path)[start:stop]:
        doc.set_ents([Span(doc, e.start, e.end, RELABEL[e.label_]) for e in doc.ents])
        set_task(doc, {})
        tasks.append(doc_to_task(doc))
    srsly.write_jsonl(out, tasks)
    return out


@pytest.fixture(scope="module")
def own_corpus(small_corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own")
    (root / "labels.json").write_text(json.dumps(LABELS), encoding="utf-8")
    prepare_corpus(root / "corpus", lang="tn", language="Setswana", labels=root / "labels.json",
                   pool=_relabelled(small_corpus / "train.spacy", root / "pool.jsonl", 40),
                   seed=_relabelled(small_corpus / "train.spacy", root / "seed.jsonl", 0, 40),
                   dev=_relabelled(small_corpus / "dev.spacy", root / "dev.jsonl"),
                   test=_relabelled(small_corpus / "test.spacy", root / "test.jsonl"))
    return root / "corpus"


def test_proxy_types_keep_answers_inside_the_label_set() -> None:
    to_proxy, to_label = proxy_types(["NAME", "CROP"])
    assert to_proxy == {"NAME": "PER", "CROP": "ORG"}
    assert to_label == {"PER": "NAME", "ORG": "CROP", "LOC": "NAME", "DATE": "CROP"}


@pytest.mark.slow
def test_the_loop_on_an_own_labelled_corpus_uses_its_seed_labels_and_test(own_corpus, tmp_path) -> None:
    settings = {"paths.corpus": str(own_corpus), "paths.runs": str(tmp_path / "runs"), "loop.rounds": 1,
                "loop.query_size": "60", "annotator.cache_path": str(tmp_path / "cache.sqlite")}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, annotator="sim-gpt-4-turbo")
    assert result["lang"] == "tn" and result["labels"] == ["PERSON", "PLACE", "TIME"]
    assert result["seed_source"] == "gold"
    first, last = result["rounds"]
    assert first["n_gold"] == 40 == first["n_labelled"] and last["n_labelled"] > 40
    annotation = last["annotation"]
    assert annotation["n_requested"] == 60 and "invalid_tag" not in json.dumps(annotation["drop_reasons"])
    assert annotation["n_dropped"] <= 6 and annotation["ents_f"] > 0.4  # the profile's errors, in the own schema
    per_type = last["test"]["ents_per_type"]
    assert set(per_type) <= set(LABELS) and "PERSON" in per_type
    assert last["test"]["ents_f"] > 0.1  # a floor for 200 training sentences and 120 updates
    pool = {t["text"] for t in srsly.read_jsonl(own_corpus.parent / "pool.jsonl")}
    labelled = srsly.read_jsonl(tmp_path / "runs" / result["run"] / "round-01" / "labelled.jsonl")
    seeds = [t for t in labelled if t["meta"]["source"] == "gold"]
    assert len(seeds) == 40 and not any(t["text"] in pool for t in seeds)  # the seed file, not drawn from the pool
