"""k-shot examples for the TokenNER prompt, read from labelled data that is never the test split.

The paper took its two examples from the TEST split (the first sentence without
an entity and the first with one), which leaks the evaluation data into every
prompt. Here they come from any labelled file the loop may use (by default the
run's gold seed); a file or sentence from a ``test`` split is refused.
"""
import functools
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from spacy.tokens import Doc
from spacy.util import registry

from ....data.corpus import load_docs
from ....data.docs import doc_tags, get_meta
from ....errors import InputError

Example = Dict[str, Any]  # {"tokens": [...], "tags": [...]}


@registry.misc("spacy-llm-loop.TokenNERExamples.v1")
def make_token_ner_examples(path: Optional[str] = None, n: int = 2) -> Callable[[], List[Example]]:
    """``n`` examples from ``path`` (.spacy, Prodigy .jsonl or CoNLL); ``path = null`` means zero-shot."""
    return functools.partial(read_examples, path, n)


def read_examples(path: Optional[Union[str, Path]], n: int = 2) -> List[Example]:
    """The first sentence without an entity, then sentences with entities, in file order, ``n`` in all."""
    if path is None or n <= 0:
        return []
    docs = load_example_docs(path)
    without = [doc for doc in docs if not doc.ents][:1]
    with_ents = [doc for doc in docs if doc.ents]
    chosen = (without + with_ents)[:n]
    chosen.sort(key=docs.index)
    return [{"tokens": [t.text for t in doc], "tags": doc_tags(doc)} for doc in chosen]


def load_example_docs(path: Union[str, Path]) -> List[Doc]:
    """The labelled docs of ``path``; an :class:`InputError` naming the sentence if any is from the test split."""
    docs = load_docs(path)
    for doc in docs:
        if get_meta(doc).get("split") == "test":
            where = get_meta(doc).get("sentence_id") or doc.text[:40]
            raise InputError(f"few-shot examples must not come from the test split (sentence {where})", path)
    return docs
