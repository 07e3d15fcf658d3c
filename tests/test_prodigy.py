"""Prodigy-compatible JSONL: lossless round trips, db-out files, and clear errors."""
import pytest
import spacy
import srsly

from spacy_llm_loop.data.docs import doc_tags, get_meta, make_doc, set_task
from spacy_llm_loop.data.prodigy import doc_to_task, read_tasks, task_hashes, task_to_doc, write_tasks
from spacy_llm_loop.errors import TaskFormatError

# What `prodigy db-out` writes for an ner_manual session (keys Prodigy adds included).
DB_OUT = [
    {"text": "Rre Masisi o tsamaile Gaborone .", "_input_hash": -1231, "_task_hash": 5512,
     "tokens": [{"text": "Rre", "start": 0, "end": 3, "id": 0, "ws": True},
                {"text": "Masisi", "start": 4, "end": 10, "id": 1, "ws": True},
                {"text": "o", "start": 11, "end": 12, "id": 2, "ws": True},
                {"text": "tsamaile", "start": 13, "end": 21, "id": 3, "ws": True},
                {"text": "Gaborone", "start": 22, "end": 30, "id": 4, "ws": True},
                {"text": ".", "start": 31, "end": 32, "id": 5, "ws": False}],
     "spans": [{"start": 0, "end": 10, "token_start": 0, "token_end": 1, "label": "PER"},
               {"start": 22, "end": 30, "token_start": 4, "token_end": 4, "label": "LOC"}],
     "_view_id": "ner_manual", "answer": "accept", "_timestamp": 1700000000, "_annotator_id": "s-ann",
     "_session_id": "s-ann", "meta": {"lang": "tsn"}},
    {"text": "Ga go sepe .", "_input_hash": 77, "_task_hash": 78,
     "tokens": [{"text": "Ga", "start": 0, "end": 2, "id": 0, "ws": True},
                {"text": "go", "start": 3, "end": 5, "id": 1, "ws": True},
                {"text": "sepe", "start": 6, "end": 10, "id": 2, "ws": True},
                {"text": ".", "start": 11, "end": 12, "id": 3, "ws": False}],
     "spans": [], "_view_id": "ner_manual", "answer": "reject", "_timestamp": 1700000001},
]


@pytest.fixture
def vocab():
    return spacy.blank("xx").vocab


def test_db_out_reads_and_roundtrips_losslessly(tmp_path, vocab):
    path = tmp_path / "db.jsonl"
    srsly.write_jsonl(path, DB_OUT)
    docs = list(read_tasks(vocab, path, answers=("accept", "reject", "ignore")))
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Rre Masisi", "PER"), ("Gaborone", "LOC")]
    assert [doc_to_task(d) for d in docs] == DB_OUT
    out = tmp_path / "out.jsonl"
    write_tasks(out, docs)
    assert list(srsly.read_jsonl(out)) == DB_OUT


def test_only_accepted_tasks_by_default(tmp_path, vocab):
    path = tmp_path / "db.jsonl"
    srsly.write_jsonl(path, DB_OUT)
    assert len(list(read_tasks(vocab, path))) == 1


def test_our_tasks_roundtrip_through_docbin(tmp_path, vocab):
    from spacy.tokens import DocBin

    doc = make_doc(vocab, ["UMandla", "u", "hambile", "eThekwini"], ["B-PER", "O", "O", "B-LOC"])
    set_task(doc, {"meta": {"lang": "zul", "split": "train", "sentence_id": "zul-train-00001", "source": "gold",
                            "round": 0}})
    task = doc_to_task(doc)
    assert set(task) >= {"text", "tokens", "spans", "_input_hash", "_task_hash", "answer", "meta"}
    assert task["spans"][0] == {"start": 0, "end": 7, "token_start": 0, "token_end": 0, "label": "PER"}
    assert task["tokens"][1] == {"text": "u", "start": 8, "end": 9, "id": 1, "ws": True}
    again = list(DocBin(docs=[task_to_doc(vocab, task)], store_user_data=True).get_docs(vocab))[0]
    assert srsly.json_loads(srsly.json_dumps(doc_to_task(again))) == task
    assert get_meta(again)["sentence_id"] == "zul-train-00001"


def test_hashes_follow_text_and_spans(vocab):
    a = task_hashes("a b", [])
    assert a == task_hashes("a b", [])
    assert a[0] == task_hashes("a b", [{"start": 0, "end": 1, "label": "PER"}])[0]
    assert a[1] != task_hashes("a b", [{"start": 0, "end": 1, "label": "PER"}])[1]
    assert all(-2**31 <= h < 2**31 for h in a)


def test_changed_spans_get_a_new_task_hash(vocab):
    doc = task_to_doc(vocab, dict(DB_OUT[0]))
    doc.ents = [doc.ents[0]]
    task = doc_to_task(doc)
    assert task["_input_hash"] == -1231 and task["_task_hash"] != 5512
    assert len(task["spans"]) == 1


def test_character_only_spans_and_missing_tokens(vocab):
    doc = task_to_doc(vocab, {"text": "Rre Masisi o tsamaile", "spans": [{"start": 4, "end": 10, "label": "PER"}]})
    assert doc_tags(doc) == ["O", "B-PER", "O", "O"]


@pytest.mark.parametrize("task,message", [
    ({"tokens": []}, "no 'text'"),
    ({"text": "a b", "spans": [{"start": 0, "end": 2, "label": "PER"}]}, "token boundaries"),
    ({"text": "a b", "spans": [{"start": 0, "end": 1}]}, "no label"),
    ({"text": "a b", "spans": [{"token_start": 0, "token_end": 5, "label": "PER"}]}, "outside"),
    ({"text": "a b", "answer": "maybe"}, "unknown answer"),
    ({"text": "a b", "tokens": [{"text": "a", "start": 0, "end": 1, "ws": False},
                                 {"text": "b", "start": 2, "end": 3, "ws": False}]}, "do not add up"),
    ({"text": "a b c", "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 2, "end": 5, "label": "LOC"}]},
     "overlapping"),
])
def test_bad_tasks_name_file_and_line(tmp_path, vocab, task, message):
    path = tmp_path / "bad.jsonl"
    srsly.write_jsonl(path, [{"text": "ok"}, task])
    with pytest.raises(TaskFormatError, match=message) as err:
        list(read_tasks(vocab, path))
    assert str(err.value).startswith(f"{path}:2:")


def test_broken_json_line(tmp_path, vocab):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(Exception, match=f"{path}:2: not valid JSON"):
        list(read_tasks(vocab, path))


def test_corpus_jsonl_matches_docbin(small_corpus, vocab):
    from spacy_llm_loop.data.corpus import load_docs

    from_bin = load_docs(small_corpus / "train.spacy", vocab)
    from_jsonl = load_docs(small_corpus / "train.jsonl", vocab)
    as_json = srsly.json_dumps
    assert [as_json(doc_to_task(d)) for d in from_bin] == [as_json(doc_to_task(d)) for d in from_jsonl]
    assert get_meta(from_bin[3]) == {"lang": "tsn", "split": "train", "sentence_id": "tsn-train-00003",
                                     "source": "gold", "round": 0, "file": "train.txt",
                                     "line": get_meta(from_bin[3])["line"]}
