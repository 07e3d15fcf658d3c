"""The benchmark scripts as modules: ``bench/`` is a folder of scripts that import each other (``stats``, ``jobs``,
``label_efficiency`` ...) as a script's own folder allows; the tests put that folder on the path once."""
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence, Tuple

GoldSentence = Tuple[str, Sequence[str], Sequence[Tuple[int, int, str]]]  # id, words, entities

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, imported."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


def gold_corpus(root: Path, sentences: Sequence[GoldSentence], lang: str = "tsn") -> None:
    """``<root>/<lang>/train.spacy``: the gold train sentences a benchmark script scores against, ids in their meta."""
    import spacy
    from spacy.tokens import DocBin, Span

    from spacy_llm_loop.data.docs import make_doc, set_task

    nlp = spacy.blank("xx")
    docs = []
    for sid, words, ents in sentences:
        doc = make_doc(nlp.vocab, list(words))
        doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
        set_task(doc, {"meta": {"sentence_id": sid}})
        docs.append(doc)
    (root / lang).mkdir(parents=True)
    DocBin(docs=docs, store_user_data=True).to_disk(root / lang / "train.spacy")
