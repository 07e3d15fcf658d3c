"""``package``: a run's trained pipeline as an installable Python package (``spacy package`` underneath).

The pipeline is the best model of the run's last finished round (or ``round``). Its meta says which run,
round, data and annotator made it (``spacy_llm_loop`` key: a SIMULATED annotator is marked so), its test
F1, and its requirements name this package (the ``uncertainty`` component lives here; spaCy finds it
from the config's factories and adds it). Install the wheel and ``spacy.load("<lang>_<name>")``; apps
that do not want the uncertainty estimates load it with ``exclude=["uncertainty"]``.
"""
import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

import srsly

from .errors import InputError
from .export import last_round

PACKAGE = "spacy-llm-loop"


def pipeline_meta(run_dir: Path, k: int, name: str, version: str) -> Dict[str, Any]:
    """The packaged pipeline's meta: the model's own, with name, version, description and provenance."""
    rd = run_dir / f"round-{k:02d}"
    meta = srsly.read_json(rd / "model" / "meta.json")
    record = srsly.read_json(rd / "record.json")
    loop = srsly.read_json(run_dir / "loop.json") if (run_dir / "loop.json").exists() else {}
    run = srsly.read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    annotator = loop.get("annotator", "unknown")
    simulated = annotator.startswith("sim-")
    try:
        ours = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(f"{PACKAGE} is not installed (pip install -e . in its folder), so the package cannot "
                         "name it as a requirement") from None
    requirements = [r for r in meta.get("requirements", []) if not r.startswith(PACKAGE)]
    meta.update({
        "name": name, "version": version,
        "description": (f"Named-entity recognition for {loop.get('lang', '?')} trained by {PACKAGE} active learning "
                        f"(run {run_dir.name}, round {k}, {record['n_labelled']} labelled sentences, annotator "
                        f"{annotator}{' (SIMULATED: gold labels with an LLM error profile)' if simulated else ''}); "
                        + ("no gold test data" if record["test"] is None else
                           f"test entity F1 {100 * record['test']['ents_f']:.2f}")),
        "requirements": requirements + [f"{PACKAGE}>={ours}"],
        "spacy_llm_loop": {"run": run_dir.name, "round": k, "lang": loop.get("lang"), "annotator": annotator,
                           "annotator_simulated": simulated, "annotator_identity": run.get("annotator_identity"),
                           "strategy": loop.get("strategy"), "seed": loop.get("seed"), "dev": loop.get("dev"),
                           "n_labelled": record["n_labelled"], "n_gold": record["n_gold"],
                           "labels": loop.get("labels"), "seed_source": loop.get("seed_source", "gold"),
                           "test_ents_f": None if record["test"] is None else record["test"]["ents_f"],
                           "corpus_sha256": run.get("corpus"),
                           "package_version": ours}})
    return meta


def package_run(run_dir: Path, output: Path, name: Optional[str] = None, version: str = "0.1.0",
                round_k: Optional[int] = None, wheel: bool = True) -> Dict[str, Any]:
    """Build the package of ``run_dir``'s pipeline into ``output``; what was built and where."""
    from spacy.cli.package import package

    run_dir = Path(run_dir)
    k = last_round(run_dir) if round_k is None else round_k
    model = run_dir / f"round-{k:02d}" / "model"
    if not (model / "meta.json").exists():
        raise InputError(f"round {k} has no trained pipeline", run_dir)
    name = name or "ner_" + run_dir.name.replace("-", "_")
    if not name.isidentifier():
        raise ValueError(f"package name '{name}' is not a Python identifier (use letters, digits and _)")
    meta = pipeline_meta(run_dir, k, name, version)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        meta_path = Path(tmp) / "meta.json"
        srsly.write_json(meta_path, meta)
        package(model, output, meta_path=meta_path, name=name, version=version, create_sdist=True,
                create_wheel=wheel, force=True, silent=True)
    full = f"{meta['lang']}_{name}"
    folder = output / f"{full}-{version}"
    wheels = sorted(str(p) for p in (folder / "dist").glob("*.whl"))
    return {"package": full, "version": version, "folder": str(folder), "wheels": wheels,
            "sdists": sorted(str(p) for p in (folder / "dist").glob("*.tar.gz")), "round": k,
            "requirements": meta["requirements"], "load": f'spacy.load("{full}")'}
