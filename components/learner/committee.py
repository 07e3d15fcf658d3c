"""Training the committee of the uncertainty component's ``committee`` estimator, into a trained pipeline.

Members ``1 .. committee_size - 1`` are learners of the same config (and the same overrides) as the pipeline,
each trained on a bootstrap resample of the pipeline's training data (as many sentences, drawn with
replacement; Breiman's bagging) with its own seed, early-stopped on the same learner dev data. They are saved
in ``<model>/uncertainty/committee/member-<k>``; the pipeline itself is the committee's first member. A round
then costs ``committee_size`` trainings instead of one. Trained once: members already there are kept, so an
interrupted round resumes where it stopped; ``committee/committee.json`` records what they were trained for
(the digest of the pipeline's NER weights and of the training data, the seed), and members of anything else
are removed and trained again.

The pipeline itself is trained with the ``beam`` estimator (its evaluations during training cannot use a
committee that does not exist yet); :func:`train_committee` switches its saved config to ``committee`` once
every member is there. Members learn from the round's own training data only (no transfer sample).
"""
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import spacy
import srsly
from spacy.tokens import DocBin

from ..fileio import TMP_MARK, file_digest, write_json, write_text
from ..uncertainty.component import COMMITTEE_DIR
from .train import train_pipeline

PathLike = Union[str, Path]
MEMBER_SEED = 1000  # member k of a loop seed s trains with seed s * MEMBER_SEED + k
MARKER = "committee.json"  # what the members were trained for: the pipeline's NER weights, the data, the seed


def _block(config_path: PathLike, overrides: Optional[Dict[str, Any]], component: str) -> Dict[str, Any]:
    config = spacy.util.load_config(Path(config_path), overrides=dict(overrides or {}), interpolate=False)
    return dict(config["components"].get(component) or {})


def requested_estimator(config_path: PathLike, overrides: Optional[Dict[str, Any]] = None,
                        component: str = "uncertainty") -> str:
    """The uncertainty estimator a learner config (with its overrides) asks for (``beam`` when it says none)."""
    return str(_block(config_path, overrides, component).get("estimator") or "beam")


def requested_size(config_path: PathLike, overrides: Optional[Dict[str, Any]] = None,
                   component: str = "uncertainty") -> int:
    """The ``committee_size`` a learner config (with its overrides) asks for; 0 unless its estimator is
    ``committee``."""
    block = _block(config_path, overrides, component)
    return int(block.get("committee_size", 3)) if block.get("estimator") == "committee" else 0


def without_committee(overrides: Optional[Dict[str, Any]], component: str = "uncertainty") -> Dict[str, Any]:
    """``overrides`` with the ``beam`` estimator, to train the pipeline (or a member) before a committee exists."""
    return {**(overrides or {}), f"components.{component}.estimator": "beam"}


def bootstrap(train_path: PathLike, seed: int, out: PathLike) -> Path:
    """A resample of the DocBin at ``train_path`` with replacement, as many docs, written to ``out``."""
    bin_ = DocBin().from_disk(train_path)
    nlp = spacy.blank("xx")
    docs = list(bin_.get_docs(nlp.vocab))
    rng = random.Random(seed)
    sample = [docs[rng.randrange(len(docs))] for _ in docs]
    DocBin(docs=sample, store_user_data=True).to_disk(out)
    return Path(out)


def train_committee(config_path: PathLike, model: PathLike, *, size: int, train_path: PathLike,
                    dev_path: PathLike, seed: int = 0, gpu_id: int = -1, overrides: Optional[Dict[str, Any]] = None,
                    component: str = "uncertainty", log_dir: Optional[PathLike] = None) -> List[Dict[str, Any]]:
    """Train the missing members ``1 .. size - 1`` of ``model``'s committee, then switch the saved pipeline's
    estimator to ``committee``; return what each new training reported."""
    folder = Path(model) / component / COMMITTEE_DIR
    member_overrides = without_committee(overrides, component)
    wanted = {"pipeline_ner": file_digest(Path(model) / "ner" / "model"), "train": file_digest(Path(train_path)),
              "seed": seed}
    marker = folder / MARKER
    if folder.exists() and (not marker.exists() or srsly.read_json(marker) != wanted):
        shutil.rmtree(folder)  # members of another pipeline or training set (e.g. copied along): not this one's
    folder.mkdir(parents=True, exist_ok=True)
    write_json(marker, wanted)
    trained = []
    for k in range(1, size):
        target = folder / f"member-{k}"
        if target.exists():
            continue
        member_seed = seed * MEMBER_SEED + k
        with tempfile.TemporaryDirectory(prefix=f".committee{TMP_MARK}", dir=folder) as tmp:
            sample = bootstrap(train_path, member_seed, Path(tmp) / "train.spacy")
            log = Path(log_dir) / f"train.member-{k}.log" if log_dir else None
            result = train_pipeline(config_path, target, train_path=sample, dev_path=dev_path, seed=member_seed,
                                    gpu_id=gpu_id, overrides=member_overrides, log_path=log)
        trained.append({"member": k, "seed": member_seed, **result})
    use_committee(model, size, component)
    return trained


def use_committee(model: PathLike, size: int, component: str = "uncertainty") -> None:
    """Set the saved pipeline's uncertainty estimator to ``committee`` of ``size`` (atomic rewrite of its
    config)."""
    path = Path(model) / "config.cfg"
    config = spacy.util.load_config(path, interpolate=False)
    block = config["components"][component]
    if block.get("estimator") == "committee" and block.get("committee_size") == size:
        return
    block.update({"estimator": "committee", "committee_size": size})
    write_text(path, config.to_str())
