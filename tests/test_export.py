"""``export``: a run's labelled set as Prodigy JSONL with provenance and DocBins for ``spacy train``."""
import json

import pytest
from typer.testing import CliRunner

from spacy_llm_loop.cli import app
from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import get_meta
from spacy_llm_loop.export import export_run
from spacy_llm_loop.loop.main import run_loop

from .conftest import FAST_TRAINING, ROOT


def test_export_writes_prodigy_jsonl_and_docbins_that_read_back(small_corpus, tmp_path) -> None:
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48",
                "annotator.cache_path": str(tmp_path / "cache.sqlite")}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING)  # the simulated GPT-4-Turbo
    run = tmp_path / "runs" / result["run"]
    manifest = export_run(run, tmp_path / "export")
    n = result["rounds"][-1]["n_labelled"]
    assert manifest["round"] == 1 and manifest["files"]["labelled.jsonl"] == n
    train = load_docs(tmp_path / "export" / "train.spacy")
    ids = [get_meta(doc)["sentence_id"] for doc in train + load_docs(tmp_path / "export" / "dev.spacy")]
    assert len(set(ids)) == n and manifest["files"]["train.spacy"] == len(train)
    gold = [get_meta(doc)["sentence_id"] for doc in train if get_meta(doc)["source"] == "gold"]
    assert manifest["gold_weight"] == 3 and len(gold) == 3 * len(set(gold))  # the default policy, as the learner had
    assert manifest["sentences_by_source"] == {"gold": 48, "llm:sim-gpt-4-turbo": n - 48}
    docs = load_docs(tmp_path / "export" / "labelled.jsonl")  # the Prodigy reader takes it back
    metas = [get_meta(doc) for doc in docs]
    assert len(docs) == n and {m["run"] for m in metas} == {result["run"]}
    llm = [m for m in metas if m["source"].startswith("llm:")]
    assert llm and all(m["prompt_hash"] and m["round"] == 1 for m in llm)
    line = json.loads((tmp_path / "export" / "labelled.jsonl").read_text().splitlines()[0])
    assert line["answer"] == "accept" and {"text", "tokens", "spans", "_input_hash", "_task_hash"} <= set(line)
    assert sum(len(doc.ents) for doc in load_docs(tmp_path / "export" / "train.spacy")) > 0


def test_export_names_a_folder_without_a_finished_round(tmp_path) -> None:
    result = CliRunner().invoke(app, ["export", str(tmp_path), "--output", str(tmp_path / "out")])
    assert result.exit_code == 1 and "no finished round" in result.output
    with pytest.raises(Exception, match="round 3 is not finished"):
        (tmp_path / "round-00").mkdir()
        (tmp_path / "round-00" / "record.json").write_text("{}")
        export_run(tmp_path, tmp_path / "out", 3)
