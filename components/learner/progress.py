"""How a training went: its evaluations, the step whose model was kept, and what stopped it.

spaCy's ``ConsoleLogger.v3`` writes every evaluation at full precision to a JSONL file
(:func:`scores_path` beside the training log; the learner configs use it). For logs
without it the console table is read, whose SCORE column is rounded to two decimals.
"""
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import srsly

JSONL_LOGGER = "spacy.ConsoleLogger.v3"
_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+.*?([\d.]+)\s*$")
PathLike = Union[str, Path]


def scores_path(log_path: PathLike) -> Path:
    """``train.log`` -> ``train.scores.jsonl``: where the JSONL logger writes the evaluations."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.stem + ".scores.jsonl")


def read_evaluations(log_path: PathLike) -> List[Tuple[int, float]]:
    """``(step, score)`` of every evaluation: from the JSONL file when there is one, else from the table."""
    jsonl = scores_path(log_path)
    if jsonl.exists():
        return [(int(r["step"]), float(r["score"])) for r in srsly.read_jsonl(jsonl)]
    rows = []
    for line in Path(log_path).read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((int(match.group(2)), float(match.group(3))))
    return rows


def training_summary(log_path: PathLike, training: Dict[str, Any]) -> Dict[str, Any]:
    """``last_step``, ``best_step``, ``best_score`` and ``stopped_by`` of a training, as spaCy's loop decides them.

    spaCy keeps the model of the latest evaluation with the best score (``best_step``) but counts patience
    from the earliest one, and stops at ``earliest best + patience`` or at ``max_steps``, whichever comes
    first (patience is checked first). ``stopped_by`` is ``max_steps`` when the cap ended it (maybe before
    it converged), ``patience`` when it stopped improving, ``max_epochs`` otherwise.
    """
    rows = read_evaluations(log_path)
    if not rows:
        return {"last_step": None, "best_step": None, "best_score": None, "stopped_by": None}
    best_score = max(score for _, score in rows)
    kept = max(step for step, score in rows if score == best_score)
    earliest = min(step for step, score in rows if score == best_score)
    last_step = rows[-1][0]
    max_steps, patience = int(training.get("max_steps") or 0), int(training.get("patience") or 0)
    if patience and (not max_steps or earliest + patience <= max_steps):
        stopped_by = "patience" if last_step >= earliest + patience - int(training.get("eval_frequency") or 1) \
            else "max_epochs"
    elif max_steps:
        stopped_by = "max_steps"
    else:
        stopped_by = "max_epochs"
    return {"last_step": last_step, "best_step": kept, "best_score": best_score, "stopped_by": stopped_by}
