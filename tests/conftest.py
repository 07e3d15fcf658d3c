"""Shared fixtures: a small real MasakhaNER corpus and a quickly trained learner."""
import os
import sys
from pathlib import Path
from typing import Dict

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / "components" / "resources" / "annotators"  # the annotator configs shipped with the package
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_data = os.environ.get("MASAKHANER_DIR") or str(ROOT.parent / "shared" / "data" / "masakhaner2")
DATA_DIR = Path(_data).resolve()
if DATA_DIR.exists():
    os.environ["MASAKHANER_DIR"] = str(DATA_DIR)  # absolute, so tests may change directory

# Small training schedule for tests: seconds, not minutes.
FAST_TRAINING: Dict[str, object] = {"training.max_steps": 120, "training.eval_frequency": 40, "training.patience": 200}
SMALL = {"train": 240, "dev": 60, "test": 60}


def pytest_collection_modifyitems(config, items):  # noqa: D103
    for item in items:
        if "external" in item.keywords:
            key = item.get_closest_marker("external").kwargs.get("env", "OPENAI_API_KEY")
            if not os.environ.get(key):
                item.add_marker(pytest.mark.skip(reason=f"external: set {key} to run"))


@pytest.fixture(scope="session")
def masakhaner_dir() -> Path:
    """The MasakhaNER 2.0 copy (``MASAKHANER_DIR``)."""
    if not DATA_DIR.exists():
        pytest.skip(f"MasakhaNER data not found at {DATA_DIR}; set MASAKHANER_DIR")
    return DATA_DIR


def _head(path: Path, n_sentences: int) -> str:
    blocks = path.read_text(encoding="utf-8").strip("\n").split("\n\n")
    return "\n\n".join(blocks[:n_sentences]) + "\n"


@pytest.fixture(scope="session")
def small_data_dir(masakhaner_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MASAKHANER_DIR-shaped folder with the first sentences of tsn's splits."""
    root = tmp_path_factory.mktemp("masakhaner-small")
    (root / "tsn").mkdir()
    for split, n in SMALL.items():
        (root / "tsn" / f"{split}.txt").write_text(_head(masakhaner_dir / "tsn" / f"{split}.txt", n), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def small_corpus(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``corpus/tsn``-shaped folder (DocBin + JSONL) converted from :func:`small_data_dir`."""
    from spacy_llm_loop.data.corpus import convert

    out = tmp_path_factory.mktemp("corpus") / "tsn"
    old = os.environ.get("MASAKHANER_DIR")
    os.environ["MASAKHANER_DIR"] = str(small_data_dir)
    try:
        convert("tsn", out)
    finally:
        os.environ["MASAKHANER_DIR"] = old or ""
    return out


@pytest.fixture(scope="session")
def trained_model(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CNN learner (with the uncertainty component) trained briefly on the small corpus."""
    from spacy_llm_loop.learner.train import train_pipeline

    out = tmp_path_factory.mktemp("model") / "model"
    train_pipeline(ROOT / "configs" / "learner-cnn.cfg", out, train_path=small_corpus / "train.spacy",
                   dev_path=small_corpus / "dev.spacy", seed=0, overrides=FAST_TRAINING)
    return out


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (for subprocesses)."""
    return sys.executable
