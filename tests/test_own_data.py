"""Your own data: label sets, pool readers, ``prepare`` and its errors, and what the loop takes from a manifest."""
import json
from pathlib import Path

import pytest
import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from spacy_llm_loop.annotators.base import AnnotationContext
from spacy_llm_loop.annotators.gold import GoldAnnotator
from spacy_llm_loop.annotators.llm import LLMAnnotator
from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import get_meta
from spacy_llm_loop.data.labels import LabelSet
from spacy_llm_loop.data.own import corpus_info, prepare_corpus
from spacy_llm_loop.data.pool import iter_pool, tokenizer_pipeline
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.loop.settings import load_loop_config, resolve_loop

from .conftest import ROOT

LABELS = {"CROP": "a crop or cultivated plant", "PLACE": "a town, province or country"}
POOL = ("Die boer in Limpopo plant mielies. Hy verkoop dit in Pretoria.\n"
        "\n"
        "Jan Smit het gister koring in die Vrystaat geoes .\n"
        "Die boer in Limpopo plant mielies. Hy verkoop dit in Pretoria.\n"
        "Maria bou 'n huis in Kaapstad .\n")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _task(words, spans=()):
    """A Prodigy ner_manual task for space-joined ``words`` with ``(start, end, label)`` token spans."""
    text, tokens, start = "", [], 0
    for i, word in enumerate(words):
        tokens.append({"text": word, "start": start, "end": start + len(word), "id": i, "ws": i < len(words) - 1})
        start += len(word) + 1
    text = " ".join(words)
    out = [{"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s, "token_end": e - 1,
            "label": label} for s, e, label in spans]
    return {"text": text, "tokens": tokens, "spans": out, "answer": "accept"}


@pytest.fixture
def files(tmp_path: Path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABELS), encoding="utf-8")
    return {"pool": _write(tmp_path / "pool.txt", POOL), "labels": labels}


# -- label sets ---------------------------------------------------------------------------------------------------
def test_label_set_from_a_plain_object_and_with_a_guideline(tmp_path) -> None:
    plain = LabelSet.from_file(_write(tmp_path / "a.json", json.dumps(LABELS)))
    assert plain.labels == ("CROP", "PLACE") and plain.guideline is None and not plain.is_masakhaner
    assert plain.tagset == ("O", "B-CROP", "I-CROP", "B-PLACE", "I-PLACE")
    assert "a crop or cultivated plant" in plain.tag_definitions()["B-CROP"]
    guided = LabelSet.from_file(_write(tmp_path / "b.json", json.dumps({"labels": LABELS, "guideline": "Be brief."})))
    assert guided.guideline == "Be brief." and guided.definitions == LABELS
    assert LabelSet.masakhaner().is_masakhaner and LabelSet.masakhaner().labels == ("PER", "ORG", "LOC", "DATE")


@pytest.mark.parametrize("text, message", [
    ('{"CROP": "a crop",\n "PLACE": }', "b.json:2: not valid JSON"),
    ('{"CROP": 3}', "definition of 'CROP' must be a string"),
    ('{"B-CROP": "x"}', "invalid label 'B-CROP'"),
    ('{"two words": "x"}', "invalid label 'two words'"),
    ('{}', "at least one label"),
    ('["CROP"]', "expected a JSON object"),
])
def test_a_bad_labels_file_is_named(tmp_path, text, message) -> None:
    with pytest.raises(InputError, match=message):
        LabelSet.from_file(_write(tmp_path / "b.json", text))


# -- pool readers ---------------------------------------------------------------------------------------------------
def test_text_pool_is_tokenized_and_split_into_sentences_with_lines(files) -> None:
    units = list(iter_pool(files["pool"], tokenizer_pipeline("xx")))
    assert [u.words for u in units[:2]] == [["Die", "boer", "in", "Limpopo", "plant", "mielies", "."],
                                            ["Hy", "verkoop", "dit", "in", "Pretoria", "."]]
    assert [u.line for u in units] == [1, 1, 3, 4, 4, 5]  # the blank line 2 is skipped
    whole = list(iter_pool(files["pool"], tokenizer_pipeline("xx", split_sentences=False)))
    assert len(whole) == 4 and whole[0].words[-1] == "."


def test_jsonl_pool_takes_text_or_tokens_and_keeps_meta(tmp_path) -> None:
    path = tmp_path / "pool.jsonl"
    srsly.write_jsonl(path, [{"text": "Jan woon in Pretoria. Hy boer.", "meta": {"source": "news-1"}},
                             {"text": "Maria plant koring", "tokens": ["Maria", "plant", "koring"]},
                             _task(["Pieter", "plant", "mielies"])])
    units = list(iter_pool(path, tokenizer_pipeline("xx")))
    assert [u.words for u in units] == [["Jan", "woon", "in", "Pretoria", "."], ["Hy", "boer", "."],
                                        ["Maria", "plant", "koring"], ["Pieter", "plant", "mielies"]]
    assert units[0].meta == {"source": "news-1"} and units[0].tags is None and units[3].tags == ["O", "O", "O"]


@pytest.mark.parametrize("content, message", [
    (b'{"text": "fine"}\n{"txt": "no text"}\n', "pool.jsonl:2: a pool task needs a 'text' string"),
    (b'{"text": "fine"}\n\n{"text": broken\n', "pool.jsonl:3: not valid JSON"),
])
def test_a_bad_jsonl_pool_line_is_named(tmp_path, content, message) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(iter_pool(path, tokenizer_pipeline("xx")))


def test_a_line_that_is_not_utf8_is_named(tmp_path) -> None:
    path = tmp_path / "pool.txt"
    path.write_bytes("Die boer plant mielies .\n".encode("utf-8") + "Koöperasie\n".encode("latin-1"))
    with pytest.raises(InputError, match="pool.txt:2: not UTF-8"):
        list(iter_pool(path, tokenizer_pipeline("xx")))


# -- prepare ----------------------------------------------------------------------------------------------------------
def test_prepare_writes_the_pool_skips_duplicates_and_says_what_is_missing(tmp_path, files) -> None:
    out = tmp_path / "corpus"
    manifest = prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    assert manifest["pool"]["sentences"] == 4 and manifest["pool"]["duplicates_skipped"] == 2
    assert manifest["pool"]["duplicates"][0] == {"line": 4, "first_line": 1}
    assert manifest["seed"] is None and manifest["test"] is None and manifest["labels"] == LABELS
    docs = load_docs(out / "train.spacy")
    assert [get_meta(d)["sentence_id"] for d in docs] == [f"af-pool-{i:06d}" for i in range(4)]
    assert all(get_meta(d)["labelled"] is False and not d.ents for d in docs)
    info = corpus_info(out)
    assert info.own and info.lang == "af" and info.labels.labels == ("CROP", "PLACE") and not info.pool_labelled
    again = prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    assert again["reused"] is True


def test_prepare_reads_labelled_seed_dev_and_test_in_every_format(tmp_path, files) -> None:
    seed = tmp_path / "seed.jsonl"
    srsly.write_jsonl(seed, [_task(["Thabo", "plant", "sorghum", "in", "Polokwane"],
                                   [(2, 3, "CROP"), (4, 5, "PLACE")])])
    dev = _write(tmp_path / "dev.conll", "Elsa O\nplant O\ndruiwe B-CROP\nin O\nPaarl B-PLACE\n")
    doc = Doc(load_docs(seed)[0].vocab, words=["Kobus", "oes", "appels"], ents=["O", "O", "B-CROP"])
    DocBin(docs=[doc]).to_disk(tmp_path / "test.spacy")
    manifest = prepare_corpus(tmp_path / "corpus", lang="af", language="Afrikaans", pool=files["pool"],
                              labels=files["labels"], seed=seed, dev=dev, test=tmp_path / "test.spacy")
    assert manifest["seed"]["by_label"] == {"CROP": 1, "PLACE": 1} and manifest["dev"]["entities"] == 2
    assert manifest["test"]["sentences"] == 1
    assert corpus_info(tmp_path / "corpus").splits == ("seed", "dev", "test")


def test_an_unknown_label_in_the_seed_names_file_and_line(tmp_path, files) -> None:
    seed = tmp_path / "seed.jsonl"
    srsly.write_jsonl(seed, [_task(["Elsa", "plant", "druiwe"], [(2, 3, "CROP")]),
                             _task(["Jan", "plant", "koring"], [(0, 1, "PER")])])
    with pytest.raises(InputError, match=r"seed.jsonl:2: label 'PER' is not in the label set \(CROP, PLACE\)"):
        prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"],
                       seed=seed)
    conll = _write(tmp_path / "seed.conll", "Elsa O\nplant O\ndruiwe B-CROP\n\nJan B-PER\nplant O\n")
    with pytest.raises(InputError, match=r"seed.conll:5: unknown tag 'B-PER': not in the label set"):
        prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"],
                       seed=conll)
    assert not (tmp_path / "c").exists()  # nothing written


def test_a_sentence_in_both_pool_and_seed_is_refused(tmp_path, files) -> None:
    seed = tmp_path / "seed.jsonl"
    srsly.write_jsonl(seed, [_task(["Elsa", "plant", "druiwe"]),
                             _task("Jan Smit het gister koring in die Vrystaat geoes .".split(), [(4, 5, "CROP")])])
    with pytest.raises(InputError, match=r"seed.jsonl:2: this seed sentence is also in .*pool.txt \(line 3\)"):
        prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"],
                       seed=seed)


def test_prepare_refuses_an_empty_pool_an_unnamed_language_and_a_masakhaner_folder(tmp_path, files, small_corpus):
    with pytest.raises(InputError, match="empty.txt: the pool has no sentences"):
        prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=_write(tmp_path / "empty.txt", "\n\n"))
    with pytest.raises(ValueError, match="give the language's name"):
        prepare_corpus(tmp_path / "c", lang="af", pool=files["pool"])
    with pytest.raises(ValueError, match="not a language code"):
        prepare_corpus(tmp_path / "c", lang="Afrikaans", language="Afrikaans", pool=files["pool"])
    with pytest.raises(InputError, match="holds a corpus not made by prepare"):
        prepare_corpus(small_corpus, lang="tsn", pool=files["pool"])


# -- what the loop and the annotators take from it --------------------------------------------------------------------
def test_the_loop_takes_language_and_labels_from_the_manifest(tmp_path, files) -> None:
    out = tmp_path / "corpus"
    prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    config = load_loop_config(ROOT / "configs" / "loop.cfg", {"paths.corpus": str(out),
                                                              "annotator.cache_path": None},
                              annotator="openai-compatible")
    settings, *_ = resolve_loop(config)
    assert settings.lang == "af" and settings.language == "Afrikaans" and settings.labels.labels == ("CROP", "PLACE")
    with pytest.raises(ValueError, match="holds language 'af'"):
        load_loop_config(ROOT / "configs" / "loop.cfg", {"paths.corpus": str(out), "loop.lang": "zul"})


def test_the_prompt_lists_the_users_labels_and_masakhaner_prompts_are_unchanged(tmp_path) -> None:
    annotator = LLMAnnotator("openai-compatible", "openai-compatible", "tsn", cache_path=None)
    seed = _write(tmp_path / "seed.jsonl", "")
    words = [["Mma", "Ramaphosa", "o", "kwa", "Gaborone"]]
    before = annotator._llm()._task.render(words)
    annotator.prepare(AnnotationContext(tmp_path, seed, "tsn", labels=LabelSet.masakhaner(), language="Setswana"))
    assert annotator._llm()._task.render(words) == before  # the paper's prompt, and its cache keys, as they were
    own = LLMAnnotator("openai-compatible", "openai-compatible", "af", cache_path=None)
    own.prepare(AnnotationContext(tmp_path, seed, "af", labels=LabelSet(LABELS), language="Afrikaans"))
    prompt = own._llm()._task.render([["Jan", "plant", "mielies"]])
    assert "expert in Afrikaans" in prompt and "- B-CROP: the first token of a CROP entity (a crop" in prompt
    assert "B-PER" not in prompt and own._llm()._task.tagset == LabelSet(LABELS).tagset


def test_prepare_writes_a_large_pool_as_shards_and_back(tmp_path, files) -> None:
    """``shard_size``: the pool as train.shards (read a shard at a time); the same sentences as train.spacy; a
    later prepare without it goes back to one DocBin, never leaving both."""
    from spacy_llm_loop.data.shards import ShardedPool

    whole = tmp_path / "whole"
    prepare_corpus(whole, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    out = tmp_path / "corpus"
    manifest = prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"],
                              shard_size=3)
    assert manifest["pool"]["sentences"] == 4 and manifest["options"]["shard_size"] == 3
    assert not (out / "train.spacy").exists() and len(ShardedPool(out / "train.shards", Vocab()).info["shards"]) == 2
    docs, expected = load_docs(out / "train.spacy"), load_docs(whole / "train.spacy")
    assert [(d.text, get_meta(d)) for d in docs] == [(d.text, get_meta(d)) for d in expected]
    with pytest.raises(InputError, match="this pool has no gold labels"):
        GoldAnnotator(out / "train.spacy").prepare(None)
    prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    assert (out / "train.spacy").exists() and not (out / "train.shards").exists()


def test_the_gold_annotator_refuses_a_pool_without_gold(tmp_path, files) -> None:
    prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    with pytest.raises(InputError, match="this pool has no gold labels"):
        GoldAnnotator(tmp_path / "c" / "train.spacy").prepare(None)


def test_a_test_sentence_in_the_pool_is_found_whatever_the_tokenization(tmp_path, files) -> None:
    test = _write(tmp_path / "test.conll", "Maria O\nbou O\n'n O\nhuis O\nin O\nKaapstad. B-PLACE\n")
    with pytest.raises(InputError, match=r"test.conll:1: this test sentence is also in .*pool.txt \(line 5\)"):
        prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"],
                       test=test)


def test_rejected_and_ignored_prodigy_tasks_are_not_labels(tmp_path, files) -> None:
    seed = tmp_path / "seed.jsonl"
    srsly.write_jsonl(seed, [_task(["Elsa", "plant", "druiwe"], [(2, 3, "CROP")]),
                             {**_task(["Kobus", "oes", "appels"], [(0, 1, "CROP")]), "answer": "reject"},
                             {**_task(["Gert", "oes", "koring"]), "answer": "ignore"}])
    manifest = prepare_corpus(tmp_path / "c", lang="af", language="Afrikaans", pool=files["pool"],
                              labels=files["labels"], seed=seed)
    assert manifest["seed"]["sentences"] == 1


def test_the_loops_pool_option_never_rewrites_a_corpus_made_from_other_inputs(tmp_path, files) -> None:
    out = tmp_path / "c"
    prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    assert prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"],
                          overwrite=False)["reused"]
    with pytest.raises(InputError, match=r"corpus.json: this corpus was prepared from other inputs or options "
                                         r"\(labels differ\)"):
        prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], overwrite=False)
    (out / "corpus.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(InputError, match="corpus.json: not a readable manifest"):
        corpus_info(out)


def test_transfer_is_refused_for_a_label_set_of_ones_own(tmp_path, files) -> None:
    out = tmp_path / "corpus"
    prepare_corpus(out, lang="af", language="Afrikaans", pool=files["pool"], labels=files["labels"])
    config = load_loop_config(ROOT / "configs" / "loop.cfg", {"paths.corpus": str(out), "annotator.cache_path": None,
                                                              "loop.transfer_langs": "zul"},
                              annotator="openai-compatible")
    with pytest.raises(ValueError, match="labels of its own"):
        resolve_loop(config)
