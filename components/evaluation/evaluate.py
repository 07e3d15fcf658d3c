"""Evaluate any trained pipeline on gold data: entity P/R/F overall and per type, as JSON and a table."""
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..data.corpus import load_docs
from ..data.docs import bare_copy
from ..errors import InputError
from .metrics import score_examples

PathLike = Union[str, Path]


def evaluate_nlp(nlp: Language, gold_docs: List[Doc], batch_size: int = 256) -> Dict[str, Any]:
    """Run ``nlp`` over bare copies of ``gold_docs`` and score the result; adds ``seconds`` and ``words_per_second``."""
    start = time.perf_counter()
    predicted = list(nlp.pipe((bare_copy(doc) for doc in gold_docs), batch_size=batch_size))
    seconds = time.perf_counter() - start
    result = score_examples([Example(p, g) for p, g in zip(predicted, gold_docs)])
    n_words = sum(len(doc) for doc in gold_docs)
    result.update({"seconds": round(seconds, 3), "words_per_second": round(n_words / max(seconds, 1e-9))})
    return result


def resolve_model(model: PathLike) -> str:
    """A pipeline path or package name; a run folder (with ``loop.json``) means its last finished round's model."""
    loop_json = Path(model) / "loop.json"
    if loop_json.exists():
        rounds = srsly.read_json(loop_json)["rounds"]
        if not rounds:
            raise InputError("the run has no finished round yet", loop_json)
        return str(Path(model) / f"round-{rounds[-1]['round']:02d}" / "model")
    return str(model)


def evaluate_model(model: PathLike, data: PathLike, gpu_id: int = -1) -> Dict[str, Any]:
    """Load a pipeline (path, package name or run folder) and evaluate it on a ``.spacy``, ``.jsonl`` or CoNLL file."""
    from ..learner.train import use_device

    use_device(gpu_id)
    model = resolve_model(model)
    nlp = spacy.load(model)
    result = evaluate_nlp(nlp, load_docs(data, nlp.vocab))
    result.update({"model": str(model), "data": str(data)})
    return result


def format_table(result: Dict[str, Any], title: Optional[str] = None) -> str:
    """A plain-text table of entity P/R/F, overall and per type (percentages)."""
    from wasabi import table

    rows = [(label, *(f"{100 * s[k]:.2f}" for k in "prf")) for label, s in sorted(result["ents_per_type"].items())]
    rows.append(("ALL", *(f"{100 * result[f'ents_{k}']:.2f}" for k in "prf")))
    text = table(rows, header=("type", "P", "R", "F"), divider=True, aligns=("l", "r", "r", "r"))
    return f"{title}\n{text}" if title else text
