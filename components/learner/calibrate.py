"""Fitting a trained pipeline's entity-confidence calibration on its own dev data, in place."""
from pathlib import Path
from typing import Any, Dict, Union, cast

import spacy
import srsly
from spacy.training import Example

from ..data.corpus import load_docs
from ..data.docs import bare_copy
from ..uncertainty.calibration import ece, entity_outcomes, fit_platt
from ..uncertainty.component import CALIBRATION_FILE, Uncertainty

PathLike = Union[str, Path]


def calibrate_pipeline(model: PathLike, dev: PathLike, component: str = "uncertainty") -> Dict[str, Any]:
    """Fit Platt scaling of ``component``'s entity confidence on the gold docs at ``dev`` and save it into the
    pipeline at ``model`` (its ``<component>/calibration.json``); return what was fitted and the dev ECE before.

    Done once: a pipeline that has the file already is left as it is. Too few dev entities (or all right, or all
    wrong) leave the calibration empty, and the raw confidence is what ``span._.confidence`` gives.
    """
    model = Path(model)
    marker = model / component / CALIBRATION_FILE
    if marker.exists():
        return {"calibration": srsly.read_json(marker).get("calibration"), "reused": True}
    nlp = spacy.load(model)
    if component not in nlp.pipe_names:
        return {"calibration": None, "note": f"no '{component}' component"}
    gold = load_docs(dev, nlp.vocab)
    examples = [Example(p, g) for p, g in zip(nlp.pipe(bare_copy(doc) for doc in gold), gold)]
    confidences, correct = entity_outcomes(examples)
    params = fit_platt(confidences, correct)
    pipe = cast(Uncertainty, nlp.get_pipe(component))  # spaCy types every component as a bare callable
    pipe.calibration = params
    pipe.to_disk(model / component)
    return {"calibration": params, "dev_entities": len(confidences), "dev_ece_raw": ece(confidences, correct)}
