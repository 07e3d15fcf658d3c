"""MasakhaNER 2.0 splits: where they are, and their conversion to DocBin and Prodigy JSONL.

Real users download the data with ``spacy project assets`` (from
masakhane-io/masakhane-ner, ``MasakhaNER2.0/data/<lang>/``). When the environment
variable ``MASAKHANER_DIR`` is set, ``$MASAKHANER_DIR/<lang>/{train,dev,test}.txt``
is read instead, e.g. a local copy for offline work, tests and CI.
"""
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import spacy
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..errors import InputError
from ..fileio import atomic_path, file_digest, write_jsonl
from .conll import Policy, Sentence, read_conll
from .docs import get_meta, make_doc, sentence_id, set_task
from .iob import MASAKHANER_LABELS
from .prodigy import doc_to_task, read_tasks
from .shards import ShardedPool, is_sharded, shards_for

logger = logging.getLogger(__name__)

ENV_DIR = "MASAKHANER_DIR"
SPLITS = ("train", "dev", "test")
LANGUAGES: Dict[str, str] = {
    "bam": "Bambara", "bbj": "Ghomálá'", "ewe": "Ewe", "fon": "Fon", "hau": "Hausa",
    "ibo": "Igbo", "kin": "Kinyarwanda", "lug": "Luganda", "luo": "Dholuo", "mos": "Mossi",
    "nya": "Chichewa", "pcm": "Nigerian Pidgin", "sna": "chiShona", "swa": "Kiswahili",
    "tsn": "Setswana", "twi": "Twi", "wol": "Wolof", "xho": "isiXhosa", "yor": "Yorùbá", "zul": "isiZulu",
}


def check_lang(lang: str) -> str:
    """``lang`` if it is one of MasakhaNER 2.0's 20 language codes, else a ValueError listing them."""
    if lang not in LANGUAGES:
        raise ValueError(f"Unknown language '{lang}'; MasakhaNER 2.0 has {', '.join(sorted(LANGUAGES))}")
    return lang


def source_dir(lang: str, assets_dir: Union[str, Path] = "assets/masakhaner2") -> Path:
    """``$MASAKHANER_DIR/<lang>`` when the variable is set, else ``<assets_dir>/<lang>``."""
    base = os.environ.get(ENV_DIR) or str(assets_dir)
    return Path(base) / check_lang(lang)


def sentences_to_docs(
    vocab: Vocab, sentences: Sequence[Sentence], lang: str, split: str, path: str = ""
) -> List[Doc]:
    """Docs with gold ``doc.ents`` and a ``meta`` naming language, split, sentence id, source and line."""
    docs = []
    for index, sentence in enumerate(sentences):
        doc = make_doc(vocab, sentence.words, sentence.tags)
        meta = {"lang": lang, "split": split, "sentence_id": f"{lang}-{split}-{index:05d}", "source": "gold",
                "round": 0, "file": path, "line": sentence.line}
        set_task(doc, {"meta": meta})
        docs.append(doc)
    return docs


def read_split(vocab: Vocab, lang: str, split: str, src: Path, policy: Policy = "repair",
               labels: Sequence[str] = MASAKHANER_LABELS) -> List[Doc]:
    """Read and check ``<src>/<split>.txt`` into Docs."""
    path = src / f"{split}.txt"
    if not path.exists():
        hint = f"set {ENV_DIR} or run 'spacy project assets'" if ENV_DIR not in os.environ else f"check {ENV_DIR}"
        raise InputError(f"MasakhaNER split not found ({hint})", path)
    result = read_conll(path, labels=labels, policy=policy)
    return sentences_to_docs(vocab, result.sentences, lang, split, path.name)


def convert(lang: str, output_dir: Union[str, Path], *, assets_dir: Union[str, Path] = "assets/masakhaner2",
            policy: Policy = "repair", splits: Sequence[str] = SPLITS) -> Dict[str, Any]:
    """Write ``<split>.spacy`` and ``<split>.jsonl`` for each split; return counts per split.

    All splits are read and checked before anything is written, so a refused file
    leaves no partial corpus behind.
    """
    src = source_dir(lang, assets_dir)
    vocab = spacy.blank("xx").vocab
    docs = {split: read_split(vocab, lang, split, src, policy) for split in splits}
    output_dir = Path(output_dir)
    summary: Dict[str, Any] = {"lang": lang, "source": str(src), "splits": {}}
    for split, split_docs in docs.items():
        with atomic_path(output_dir / f"{split}.spacy") as tmp:
            DocBin(docs=split_docs, store_user_data=True).to_disk(tmp)
        write_jsonl(output_dir / f"{split}.jsonl", (doc_to_task(doc) for doc in split_docs))
        summary["splits"][split] = {"sentences": len(split_docs), "entities": sum(len(d.ents) for d in split_docs),
                                    "tokens": sum(len(d) for d in split_docs)}
    return summary


def pool_file(path: Union[str, Path]) -> Path:
    """``path``, or the shards folder that stands in for it (``train.spacy`` -> ``train.shards``) when only that
    exists; both at once are refused, since which one the loop should read would be a guess."""
    path = Path(path)
    shards = shards_for(path)
    if path.suffix != ".spacy" or not is_sharded(shards):
        return path
    if path.exists():
        raise InputError(f"both {path.name} and {shards.name} are here; remove the one that is not the pool", path)
    return shards


def open_pool(path: Union[str, Path], vocab: Vocab) -> Sequence[Doc]:
    """The loop's pool: every Doc of a DocBin in memory, or a :class:`.shards.ShardedPool` read a shard at a time
    when the pool is a shards folder (:func:`pool_file`)."""
    path = pool_file(path)
    return ShardedPool(path, vocab) if is_sharded(path) else load_docs(path, vocab)


def pool_texts(pool: Sequence[Doc]) -> List[str]:
    """Every pool sentence's text (a sharded pool's from its words, without Docs)."""
    if isinstance(pool, ShardedPool):
        return [" ".join(record[1]) for record in pool.records(range(len(pool)))]
    return [doc.text for doc in pool]


def pool_lengths(pool: Sequence[Doc]) -> List[int]:
    """Every pool sentence's number of tokens (a sharded pool's without Docs)."""
    if isinstance(pool, ShardedPool):
        return pool.n_tokens(range(len(pool)))
    return [len(doc) for doc in pool]


def entity_shares(pool: Sequence[Doc]) -> List[float]:
    """Every sentence's share of tokens inside a gold entity (0 for an empty or unlabelled one); a sharded pool's
    from its stored counts, without Docs (building a million of them takes minutes)."""
    if isinstance(pool, ShardedPool) and pool.lengths is not None and pool.entity_tokens is not None:
        return [e / n if n else 0.0 for e, n in zip(pool.entity_tokens, pool.lengths)]
    return [sum(len(e) for e in doc.ents) / len(doc) if len(doc) else 0.0 for doc in pool]


def pool_ids(pool: Sequence[Doc]) -> List[str]:
    """Every pool sentence's id, in order (a sharded pool's from its index)."""
    return list(pool.ids) if isinstance(pool, ShardedPool) else [sentence_id(doc) for doc in pool]


def pool_digest(path: Union[str, Path]) -> str:
    """What identifies the pool file (a resumed run checks it): the DocBin's bytes, or the shards' digest."""
    path = pool_file(path)
    return f"shards:{ShardedPool(path, spacy.blank('xx').vocab).digest}" if is_sharded(path) else file_digest(path)


def check_labelled(docs: Sequence[Doc], path: Union[str, Path], why: str) -> None:
    """Raise an :class:`InputError` naming ``path`` if its sentences have no gold labels (an unlabelled pool
    from ``prepare``): ``why`` says who needed them."""
    if any(get_meta(doc).get("labelled") is False for doc in docs[:1]):
        raise InputError(f"this pool has no gold labels (prepared from unlabelled text), and {why}; use an LLM "
                         "annotator (e.g. --annotator openai-compatible or gpt-4-turbo)", path)


def load_docs(path: Union[str, Path], vocab: Optional[Vocab] = None) -> List[Doc]:
    """Docs from a ``.spacy`` DocBin, a Prodigy-style ``.jsonl`` or a CoNLL ``.txt``/``.conll`` file, or a shards
    folder (:mod:`.shards`; also when a ``train.spacy`` asked for is absent and ``train.shards`` is there)."""
    path = pool_file(path)
    vocab = vocab or spacy.blank("xx").vocab
    if is_sharded(path):
        return list(ShardedPool(path, vocab))
    if not path.exists():
        raise InputError("file not found", path)
    if path.suffix == ".spacy":
        return list(DocBin().from_disk(path).get_docs(vocab))
    if path.suffix == ".jsonl":
        return list(read_tasks(vocab, path))
    if path.suffix in (".txt", ".conll", ".iob"):
        return sentences_to_docs(vocab, read_conll(path).sentences, "", path.stem, path.name)
    raise InputError("unknown data format (expected .spacy, .jsonl, .txt or .conll)", path)
