"""Cross-lingual transfer: other MasakhaNER languages' gold train data added to the learner's training.

A team starting a language can train on the languages that already have labels, for free. The transfer
sentences join the learner's **train** data in every round (and in ``train-full``); they are never the
learner's dev data (early stopping and the best model are chosen on the target language alone), never count
as labelled sentences of the target, and the target's test split is never touched.

Schedule: a fixed, seeded sample of at most ``transfer_max`` sentences per source language (entity-bearing
sentences first, as the seed sampler prefers them; the languages interleaved). By default all of it joins
every round: the target's own labelled sentences grow round by round, so its share of the training data grows
with them (on zul, from about 10% at the seed round to about 40% at round 5 with two sources of 2,000). With
``transfer_ratio`` r, a round trains on the sample's first ``r x`` (its own train sentences): the target keeps
a fixed share of the mix in every round.

``auto`` chooses the sources by a rule that needs no labels of the target: the ``n`` languages whose
character-trigram profile (words lower-cased, with boundary marks) is closest, by cosine, to the target's
pool. It is a proxy for relatedness and shared names, not a measured transfer gain; the choice is logged and
recorded in the run.
"""
import itertools
import logging
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple, Union

import spacy
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..data.corpus import LANGUAGES, SPLITS, convert, load_docs, source_dir
from ..data.docs import get_meta, set_task
from ..fileio import atomic_path

logger = logging.getLogger(__name__)
TRANSFER_MAX = 2000  # sentences per source language
AUTO_SOURCES = 2
SOURCE_PREFIX = "transfer:"


def parse_langs(value: Union[str, Sequence[str], None]) -> Tuple[str, ...]:
    """``"xho sna"``, ``"xho,sna"`` or a list -> ``("xho", "sna")``; ``""``/None -> ``()``; ``"auto"`` kept."""
    if value is None:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v) for v in value]
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def trigram_profile(texts: Iterable[str]) -> Counter:
    """Character trigrams of the words in ``texts`` (lower-cased, ``<word>`` boundary marks)."""
    grams: Counter = Counter()
    for text in texts:
        for word in text.lower().split():
            marked = f"<{word}>"
            grams.update(marked[i:i + 3] for i in range(len(marked) - 2))
    return grams


def cosine(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count profiles."""
    dot = sum(count * b.get(key, 0) for key, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def available_sources(target: str, corpus_root: Path) -> List[str]:
    """MasakhaNER languages other than ``target`` whose train split is converted or can be (MASAKHANER_DIR)."""
    found = []
    for lang in sorted(LANGUAGES):
        own = (corpus_root / lang / "corpus.json").exists()  # made by prepare: not MasakhaNER's gold
        if lang != target and not own and ((corpus_root / lang / "train.spacy").exists() or _has_source(lang)):
            found.append(lang)
    return found


def _has_source(lang: str) -> bool:
    try:
        return (source_dir(lang) / "train.txt").exists()
    except ValueError:
        return False


def rank_sources(target_texts: Sequence[str], candidates: Sequence[str], corpus_root: Path) -> List[Tuple[str, float]]:
    """Candidates by the cosine of their train text's trigram profile to ``target_texts``, best first."""
    target = trigram_profile(target_texts)
    scores = [(lang, cosine(target, trigram_profile(d.text for d in source_docs(lang, corpus_root))))
              for lang in candidates]
    return sorted(scores, key=lambda item: (-item[1], item[0]))


def resolve_sources(langs: Sequence[str], target: str, target_texts: Sequence[str], corpus_root: Path,
                    n_auto: int = AUTO_SOURCES) -> Tuple[Tuple[str, ...], Dict[str, float]]:
    """The source languages (``auto`` replaced by the ``n_auto`` closest) and, for ``auto``, every score."""
    if tuple(langs) != ("auto",):
        bad = [lang for lang in langs if lang not in LANGUAGES or lang == target]
        if bad:
            raise ValueError(f"transfer languages must be MasakhaNER languages other than the target '{target}'; "
                             f"got {', '.join(bad)} (or use 'auto')")
        return tuple(langs), {}
    ranked = rank_sources(target_texts, available_sources(target, corpus_root), corpus_root)
    chosen = tuple(lang for lang, _ in ranked[:n_auto])
    logger.info("transfer 'auto' for %s: %s (trigram cosine: %s)", target, ", ".join(chosen),
                ", ".join(f"{lang} {score:.3f}" for lang, score in ranked[:6]))
    return chosen, {lang: round(score, 4) for lang, score in ranked}


def source_docs(lang: str, corpus_root: Path, vocab: Union[Vocab, None] = None) -> List[Doc]:
    """A source language's gold train split, converted into ``<corpus_root>/<lang>`` first if it is not there."""
    path = corpus_root / lang / "train.spacy"
    if (corpus_root / lang / "corpus.json").exists():
        raise ValueError(f"{corpus_root / lang} was made by prepare (a corpus of one's own), not MasakhaNER's "
                         f"{lang}: it cannot be a transfer source")
    if not path.exists():
        logger.info("converting %s for transfer into %s", lang, path.parent)
        convert(lang, corpus_root / lang, splits=SPLITS)
    return load_docs(path, vocab or spacy.blank("xx").vocab)


def transfer_sample(docs: Sequence[Doc], n: int, seed: int) -> List[Doc]:
    """At most ``n`` of ``docs``: sentences with entities first (seeded order), then the rest."""
    rng = random.Random(seed)
    rich = [d for d in docs if d.ents]
    rest = [d for d in docs if not d.ents]
    rng.shuffle(rich)
    rng.shuffle(rest)
    return (rich + rest)[:n]


def write_transfer(path: Path, langs: Sequence[str], corpus_root: Path, n_per_lang: int, seed: int) -> int:
    """Write the transfer sample of every source language to ``path`` (a DocBin), the languages interleaved (so
    that any prefix is balanced across them); return how many sentences."""
    vocab = spacy.blank("xx").vocab
    samples = []
    for lang in langs:
        sample = transfer_sample(source_docs(lang, corpus_root, vocab), n_per_lang, seed)
        for doc in sample:
            set_task(doc, {"meta": {**get_meta(doc), "source": SOURCE_PREFIX + lang, "learner_split": "train"}})
        samples.append(sample)
    docs: List[Doc] = [doc for group in itertools.zip_longest(*samples) for doc in group if doc is not None]
    with atomic_path(path) as tmp:
        DocBin(docs=docs, store_user_data=True).to_disk(tmp)
    return len(docs)


def prepare_transfer(path: Path, requested: Sequence[str], target: str, target_texts: Sequence[str],
                     corpus_root: Path, n_per_lang: int, seed: int) -> Dict[str, Any]:
    """Resolve the sources (``auto`` included), write their sample to ``path`` and return its record
    (requested and chosen languages, ``auto``'s scores, the cap per language, the sentences written)."""
    langs, scores = resolve_sources(requested, target, target_texts, corpus_root)
    n = write_transfer(path, langs, corpus_root, n_per_lang, seed)
    return {"requested": list(requested), "langs": list(langs), "auto_scores": scores, "max_per_lang": n_per_lang,
            "sentences": n}


def write_prefix(source: Path, path: Path, n: int, vocab: Vocab) -> Path:
    """The first ``n`` docs of the DocBin ``source``, written to ``path`` (the transfer ratio's share)."""
    docs = load_docs(source, vocab)[:n]
    with atomic_path(path) as tmp:
        DocBin(docs=docs, store_user_data=True).to_disk(tmp)
    return path


def training_folder(folder: Path, parts: Sequence[Path]) -> Path:
    """A folder holding copies of the DocBins in ``parts`` (spaCy's corpus reader reads every ``.spacy`` in a
    folder): the learner's train path when transfer data joins the target's own."""
    import shutil

    with atomic_path(folder, is_dir=True) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(parts):
            shutil.copyfile(part, tmp / f"{i}-{part.name}")
    return folder
