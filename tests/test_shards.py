"""A sharded pool reads back the Docs it was written from, a shard at a time, and refuses what it cannot trust."""
import hashlib

import pytest
import srsly
from spacy.tokens import Doc

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import doc_tags, get_task, sentence_id
from spacy_llm_loop.data.shards import DocsById, PoolView, ShardedPool, is_sharded, shards_for, write_shards
from spacy_llm_loop.errors import InputError


def _same(a: Doc, b: Doc) -> bool:
    return [t.text for t in a] == [t.text for t in b] and doc_tags(a) == doc_tags(b) and get_task(a) == get_task(b)


def test_shards_read_back_the_docs_in_order(small_corpus, tmp_path) -> None:
    docs = load_docs(small_corpus / "train.spacy")
    folder = shards_for(tmp_path / "train.spacy")
    index = write_shards(iter(docs), folder, shard_size=7)
    assert folder.name == "train.shards" and is_sharded(folder)
    assert index["n"] == len(docs) and len(index["shards"]) == -(-len(docs) // 7)
    pool = ShardedPool(folder, docs[0].vocab, cache=1)
    assert len(pool) == len(docs) and pool.ids == [sentence_id(d) for d in docs]
    assert all(_same(a, b) for a, b in zip(pool, docs))
    assert _same(pool[-1], docs[-1]) and all(_same(a, b) for a, b in zip(pool[3:12], docs[3:12]))
    view = PoolView(pool, [10, 2, 30])
    assert [sid for sid, _ in view.words(0, 3)] == [sentence_id(docs[i]) for i in (10, 2, 30)]
    assert view.n_tokens() == [len(docs[i]) for i in (10, 2, 30)] and view.subset([2]).id(0) == sentence_id(docs[30])


def test_an_unlabelled_sentence_stays_unlabelled(tmp_path) -> None:
    from spacy.vocab import Vocab

    from spacy_llm_loop.data.docs import make_doc, set_task

    doc = make_doc(Vocab(), ["Ke", "a", "leboga"])
    set_task(doc, {"meta": {"sentence_id": "x-1", "labelled": False}})
    write_shards([doc], tmp_path / "p.shards")
    back = ShardedPool(tmp_path / "p.shards", Vocab())[0]
    assert not back.has_annotation("ENT_IOB") and get_task(back) == get_task(doc)


def test_docs_by_id_pins_what_the_loop_labels(small_corpus, tmp_path) -> None:
    docs = load_docs(small_corpus / "train.spacy")
    write_shards(docs[5:], tmp_path / "t.shards", shard_size=10)
    by_id = DocsById(ShardedPool(tmp_path / "t.shards", docs[0].vocab, cache=1), extra=docs[:5])
    wanted = [sentence_id(docs[i]) for i in (40, 6, 2, 33)]
    by_id.pin(wanted)
    assert set(by_id.pinned) == {wanted[0], wanted[1], wanted[3]}  # the seed file's doc is kept as it is
    assert all(_same(by_id[sid], docs[i]) for sid, i in zip(wanted, (40, 6, 2, 33)))
    assert _same(by_id[sentence_id(docs[20])], docs[20]) and sentence_id(docs[0]) in by_id and "nope" not in by_id
    assert len(by_id) == len(docs)


def test_bad_shards_are_refused_naming_the_file(small_corpus, tmp_path) -> None:
    docs = load_docs(small_corpus / "train.spacy")[:20]
    with pytest.raises(InputError, match="appears twice"):
        write_shards(docs + docs[:1], tmp_path / "dup.shards")
    assert not (tmp_path / "dup.shards").exists()  # nothing half-written
    with pytest.raises(InputError, match="no index.json"):
        ShardedPool(tmp_path / "dup.shards", docs[0].vocab)
    write_shards(docs, tmp_path / "ok.shards", shard_size=8)
    (tmp_path / "ok.shards" / "shard-00001.msgpack").write_bytes(b"\x93garbage")
    pool = ShardedPool(tmp_path / "ok.shards", docs[0].vocab)
    with pytest.raises(InputError, match="shard-00001.msgpack"):
        pool[9]
    index = srsly.read_json(tmp_path / "ok.shards" / "index.json")
    srsly.write_json(tmp_path / "ok.shards" / "index.json", {**index, "format": 99})
    with pytest.raises(InputError, match="format 99"):
        ShardedPool(tmp_path / "ok.shards", docs[0].vocab)


def test_a_changed_shard_a_bad_index_and_a_bad_size_are_refused(small_corpus, tmp_path) -> None:
    docs = load_docs(small_corpus / "train.spacy")[:20]
    with pytest.raises(ValueError, match="at least 1 sentence"):
        write_shards(docs, tmp_path / "neg.shards", shard_size=-5)
    write_shards(docs, tmp_path / "ok.shards", shard_size=8)
    shard = tmp_path / "ok.shards" / "shard-00000.msgpack"
    data = srsly.msgpack_loads(shard.read_bytes())
    data[0][1][0] = "changed"
    shard.write_bytes(srsly.msgpack_dumps(data))  # still decodes, but not what the index recorded
    with pytest.raises(InputError, match="not what the index recorded"):
        ShardedPool(tmp_path / "ok.shards", docs[0].vocab)[0]
    index = srsly.read_json(tmp_path / "ok.shards" / "index.json")
    srsly.write_json(tmp_path / "ok.shards" / "index.json", {k: v for k, v in index.items() if k != "shards"})
    with pytest.raises(InputError, match="not a readable shards index"):
        ShardedPool(tmp_path / "ok.shards", docs[0].vocab)
    srsly.write_json(tmp_path / "ok.shards" / "index.json", {**index, "n": 21})
    with pytest.raises(InputError, match="do not add up"):
        ShardedPool(tmp_path / "ok.shards", docs[0].vocab)


def test_a_shard_whose_sentences_are_misshapen_is_refused_naming_it(small_corpus, tmp_path) -> None:
    """Shards are checked, not copied, when read: a sentence that is not [id, words, tags, task] is refused with
    the shard's name, even when the index's digest was made to match it."""
    docs = load_docs(small_corpus / "train.spacy")[:20]
    write_shards(docs, tmp_path / "ok.shards", shard_size=8)
    shard = tmp_path / "ok.shards" / "shard-00001.msgpack"
    data = srsly.msgpack_loads(shard.read_bytes())
    data[2][1] = " ".join(data[2][1])  # words as one string
    shard.write_bytes(srsly.msgpack_dumps(data))
    index = srsly.read_json(tmp_path / "ok.shards" / "index.json")
    index["shards"][1]["sha256"] = hashlib.sha256(shard.read_bytes()).hexdigest()[:16]
    srsly.write_json(tmp_path / "ok.shards" / "index.json", index)
    pool = ShardedPool(tmp_path / "ok.shards", docs[0].vocab)
    assert _same(pool[3], docs[3]) and [r[0] for r in pool.records([-1, 0, 19])] == [sentence_id(docs[i])
                                                                                    for i in (19, 0, 19)]
    with pytest.raises(IndexError):
        list(pool.records([0, 20]))
    with pytest.raises(InputError, match="shard-00001.msgpack") as refused:
        list(pool.records([2, 9]))
    assert "not [id, words, tags or null, task]" in str(refused.value)


def test_lengths_are_read_beside_the_ids_and_older_folders_still_work(small_corpus, tmp_path) -> None:
    docs = load_docs(small_corpus / "train.spacy")[:20]
    write_shards(docs, tmp_path / "ok.shards", shard_size=8)
    pool = ShardedPool(tmp_path / "ok.shards", docs[0].vocab, cache=1)
    assert pool.lengths == [len(d) for d in docs] and PoolView(pool, [3, 17]).n_tokens() == [len(docs[3]),
                                                                                           len(docs[17])]
    assert not pool._cache, "lengths come without reading a shard"
    (tmp_path / "ok.shards" / "lengths.msgpack").unlink()  # a folder written before lengths were kept
    older = ShardedPool(tmp_path / "ok.shards", docs[0].vocab)
    assert older.lengths is None and older.n_tokens(range(20)) == [len(d) for d in docs]
    (tmp_path / "ok.shards" / "lengths.msgpack").write_bytes(srsly.msgpack_dumps([1, 2]))
    with pytest.raises(InputError, match="2 lengths for 20 sentences"):
        ShardedPool(tmp_path / "ok.shards", docs[0].vocab)


def test_the_entity_rich_seed_reads_stored_counts_not_docs(small_corpus, tmp_path) -> None:
    """The entity-rich seed sampler draws the same sentences from a sharded pool as from its Docs, from the entity
    token counts stored beside the ids, without reading a shard; a folder written before them is read as Docs."""
    from spacy_llm_loop.data.docs import make_doc, set_task
    from spacy_llm_loop.strategies.seeding import EntityRichSeed

    docs = load_docs(small_corpus / "train.spacy")[:60]
    for sid, words in (("empty", []), ("raw", ["Kgosi", "o", "ile"])):  # no tokens; no entity annotation at all
        docs.append(make_doc(docs[0].vocab, words))
        set_task(docs[-1], {"meta": {"sentence_id": sid}})
    write_shards(docs, tmp_path / "ok.shards", shard_size=16)
    pool = ShardedPool(tmp_path / "ok.shards", docs[0].vocab, cache=1)
    assert pool.entity_tokens == [sum(len(e) for e in d.ents) for d in docs]
    sampler = EntityRichSeed(12)
    assert all(sampler(pool, seed) == sampler(docs, seed) for seed in range(5)) and not pool._cache
    (tmp_path / "ok.shards" / "entity_tokens.msgpack").unlink()
    older = ShardedPool(tmp_path / "ok.shards", docs[0].vocab)
    assert older.entity_tokens is None and sampler(older, 3) == sampler(docs, 3)
    (tmp_path / "ok.shards" / "entity_tokens.msgpack").write_bytes(b"\xc1")
    with pytest.raises(InputError, match="cannot read the entity token counts"):
        ShardedPool(tmp_path / "ok.shards", docs[0].vocab)
