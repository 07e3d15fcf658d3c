"""Prodigy-compatible JSONL: lossless round trips, db-out files, and clear errors."""
import copy
import unicodedata

import pytest
import spacy
import srsly

from spacy_llm_loop.data.conll import format_conll, read_conll
from spacy_llm_loop.data.corpus import sentences_to_docs
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
    ({"text": "a b", "tokens": [{"text": "a", "start": 0, "end": 1, "ws": True},
                                {"text": "c", "start": 2, "end": 3, "ws": False}]},
     "token 1 'c' does not match the text at its 'start' and 'end' \\(2-3\\), which holds 'b'"),
    ({"text": "a b", "tokens": [{"text": "a", "start": 0, "end": 1, "ws": True},
                                {"text": "b", "start": 4, "end": 5, "ws": False}]}, "does not match the text"),
    ({"text": "a a", "tokens": [{"text": "a", "start": 2, "end": 3, "ws": True},
                                {"text": "a", "start": 0, "end": 1, "ws": False}]},
     "token 0 'a' is at characters 0-1 of the text, but its 'start' and 'end' say 2-3"),
    ({"text": "ab", "tokens": [{"text": "a"}, {"text": "c"}]}, "token 1 'c' would be at character 1"),
    ({"text": "a b", "tokens": [{"text": "", "start": 0, "end": 0}, {"text": "a b", "start": 0, "end": 3}]},
     "token 0 has no 'text'"),
    ({"text": "a b", "tokens": [{"text": "a", "start": "0", "end": 1}]}, "'start' that is not an integer"),
    ({"text": "a b", "tokens": "a b"}, "'tokens' is not a list"),
    ({"text": "a b", "spans": {"start": 0}}, "'spans' is not a list"),
    ({"text": "a b", "spans": [{"token_start": "0", "token_end": 0, "label": "PER"}]}, "not an integer"),
    (["a", "b"], "not a JSON object"),
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


NFD_TEXT = "Ba\u0300ba\u0301 O\u0323la\u0301"  # Yorùbá as MasakhaNER writes it: combining marks (NFD)


def _tokens(text, words):
    tokens, start = [], 0
    for i, word in enumerate(words):
        start = text.index(word, start)
        tokens.append({"text": word, "start": start, "end": start + len(word), "id": i,
                       "ws": text[start + len(word):start + len(word) + 1] == " "})
        start += len(word)
    return tokens


@pytest.mark.parametrize("text_form,token_form", [("NFD", "NFC"), ("NFC", "NFD")])
def test_text_and_tokens_in_different_normalisation(tmp_path, vocab, text_form, token_form):
    text = unicodedata.normalize(text_form, NFD_TEXT)
    token_text = unicodedata.normalize(token_form, NFD_TEXT)
    task = {"text": text, "tokens": _tokens(token_text, token_text.split(" ")),
            "spans": [{"token_start": 1, "token_end": 1, "label": "PER"}]}
    path = tmp_path / "tasks.jsonl"
    srsly.write_jsonl(path, [{"text": "ok"}, task])
    with pytest.raises(TaskFormatError) as err:
        list(read_tasks(vocab, path))
    assert str(err.value) == (f"{path}:2: the text and the tokens differ in Unicode normalisation (the text is "
                              f"{text_form}, the tokens are {token_form}); write both in the same form")


def test_non_nfc_text_and_tokens_are_kept_as_written(vocab):
    task = {"text": NFD_TEXT, "tokens": _tokens(NFD_TEXT, NFD_TEXT.split(" ")),
            "spans": [{"token_start": 1, "token_end": 1, "label": "PER"}]}
    doc = task_to_doc(vocab, copy.deepcopy(task))
    assert doc.text == NFD_TEXT and [t.text for t in doc] == NFD_TEXT.split(" ")
    assert doc_to_task(doc)["tokens"] == task["tokens"] and doc.ents[0].text == "O\u0323la\u0301"


@pytest.mark.parametrize("text", [" a  b", "a b ", "", "a\u00a0b c"])
def test_text_without_tokens_is_split_on_spaces(vocab, text):
    doc = task_to_doc(vocab, {"text": text})
    assert doc.text == text
    assert [t.text for t in doc if not t.is_space] == [w for w in text.split(" ") if w]


@pytest.mark.parametrize("lang", ["yor", "bbj"])
def test_real_non_nfc_sentences_roundtrip_byte_identical(masakhaner_dir, tmp_path, vocab, lang):
    # CoNLL -> Doc -> Prodigy JSONL -> Doc -> CoNLL, on sentences whose tokens are not in NFC
    blocks = (masakhaner_dir / lang / "train.txt").read_text(encoding="utf-8").split("\n\n")[:60]
    picked = [b for b in blocks if not unicodedata.is_normalized("NFC", b)][:8]
    assert len(picked) == 8
    conll = tmp_path / "train.txt"
    conll.write_bytes(("\n\n".join(picked) + "\n").encode("utf-8"))
    sentences = read_conll(conll, policy="strict").sentences
    jsonl = tmp_path / "train.jsonl"
    write_tasks(jsonl, sentences_to_docs(vocab, sentences, lang, "train"))
    docs = list(read_tasks(vocab, jsonl))
    assert [[t.text.encode("utf-8") for t in doc] for doc in docs] == [
        [w.encode("utf-8") for w in s.words] for s in sentences]
    again = format_conll(([t.text for t in doc], doc_tags(doc)) for doc in docs)
    assert again.encode("utf-8") == conll.read_bytes()


NER_TEACH = {
    "text": "Rre Masisi o tsamaile Gaborone .", "_input_hash": -1231, "_task_hash": 991,
    "tokens": DB_OUT[0]["tokens"],
    "spans": [{"start": 22, "end": 30, "token_start": 4, "token_end": 4, "label": "LOC", "score": 0.62,
               "priority": 0.62}],
    "meta": {"score": 0.62}, "_view_id": "ner", "answer": "accept", "_timestamp": 1700000002,
}


def _teach_file(tmp_path):
    path = tmp_path / "teach.jsonl"
    rejected = dict(NER_TEACH, answer="reject", _task_hash=992)
    srsly.write_jsonl(path, [DB_OUT[0], NER_TEACH, rejected])
    return path


def test_binary_tasks_are_refused_by_default(tmp_path, vocab):
    path = _teach_file(tmp_path)
    with pytest.raises(TaskFormatError) as err:
        list(read_tasks(vocab, path))
    assert str(err.value) == (
        f"{path}:2: task is a binary answer from Prodigy's ner.teach (_view_id 'ner', answer 'accept' on one "
        "suggested span), not a complete annotation; export the complete annotations (ner.manual or "
        "ner.correct), or read the file with read_tasks(..., binary='skip') to leave such tasks out, or "
        "binary='complete' to read their spans as complete")
    with pytest.raises(TaskFormatError, match="binary answer"):
        task_to_doc(vocab, NER_TEACH)


def test_binary_tasks_skipped_with_a_warning(tmp_path, vocab, caplog):
    path = _teach_file(tmp_path)
    docs = list(read_tasks(vocab, path, answers=("accept", "reject"), binary="skip"))
    assert [d.text for d in docs] == [DB_OUT[0]["text"]] and len(docs[0].ents) == 2
    assert f"{path}:2: skipped a binary ner.teach task" in caplog.text
    assert f"{path}:3: skipped a binary ner.teach task" in caplog.text


def test_binary_tasks_read_as_complete_when_asked(tmp_path, vocab):
    path = _teach_file(tmp_path)
    docs = list(read_tasks(vocab, path, binary="complete"))
    assert [[(e.text, e.label_) for e in d.ents] for d in docs] == [[("Rre Masisi", "PER"), ("Gaborone", "LOC")],
                                                                    [("Gaborone", "LOC")]]
    assert doc_to_task(docs[1]) == NER_TEACH
    assert len(task_to_doc(vocab, NER_TEACH, binary="complete").ents) == 1


def test_unknown_binary_policy(tmp_path, vocab):
    with pytest.raises(ValueError, match="Unknown binary policy 'maybe'"):
        read_tasks(vocab, _teach_file(tmp_path), binary="maybe")  # refused at once, not when iterated


def test_our_own_tasks_are_not_binary(tmp_path, vocab):
    # The project's files carry no _view_id: a single span is still a complete annotation.
    doc = make_doc(vocab, ["UMandla", "u", "hambile"], ["B-PER", "O", "O"])
    path = tmp_path / "ours.jsonl"
    write_tasks(path, [doc])
    assert "_view_id" not in next(srsly.read_jsonl(path))
    assert [e.text for e in next(read_tasks(vocab, path)).ents] == ["UMandla"]
