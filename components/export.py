"""``export``: a run's labelled set out of the loop, for Prodigy and for ``spacy train``.

From the run's last finished round (or ``round``): ``labelled.jsonl`` (Prodigy JSONL: ``text``, ``tokens``,
``spans``, ``answer: accept``, and ``meta`` with the provenance of each label: ``source`` gold or
``llm:<model>``, the round, the prompt hash and request id, the parser's problems and repairs, and whether
the learner held it out as dev; under a label policy, ``label_policy`` with the token ranges made missing and
the entities removed) and ``train.spacy`` / ``dev.spacy`` (the learner's own split, as DocBins, missing tokens
kept and gold sentences repeated ``gold_weight`` times in ``train.spacy`` as the learner had them:
``python -m spacy train <config> --paths.train train.spacy --paths.dev dev.spacy``), with ``export.json``
saying what is in them. A run that used the gold dev split (``oracle``) has no ``dev.spacy`` of its own.
"""
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Optional

import srsly

from .data.corpus import load_docs
from .errors import InputError
from .fileio import atomic_path, read_jsonl, write_json, write_jsonl
from .loop.state import RunFolder


def last_round(run_dir: Path) -> int:
    """The last round with a record (a finished round); an error naming the folder when there is none."""
    k = len(RunFolder(run_dir).records()) - 1
    if k < 0:
        raise InputError("no finished round to export (is this a run folder?)", run_dir)
    return k


def export_run(run_dir: Path, output: Path, round_k: Optional[int] = None) -> Dict[str, Any]:
    """Write the labelled set of ``run_dir`` (see the module docstring) to ``output``; the manifest."""
    run_dir = Path(run_dir)
    k = last_round(run_dir) if round_k is None else round_k
    rd = run_dir / f"round-{k:02d}"
    if not (rd / "record.json").exists():
        raise InputError(f"round {k} is not finished", run_dir)
    loop = srsly.read_json(run_dir / "loop.json") if (run_dir / "loop.json").exists() else {}
    tasks = read_jsonl(rd / "labelled.jsonl")
    for task in tasks:
        task["meta"] = {**task.get("meta", {}), "run": run_dir.name, "exported_round": k}
    output.mkdir(parents=True, exist_ok=True)
    write_jsonl(output / "labelled.jsonl", tasks)
    files = {"labelled.jsonl": len(tasks)}
    for name in ("train.spacy", "dev.spacy"):
        if (rd / name).exists():
            with atomic_path(output / name) as tmp:
                shutil.copyfile(rd / name, tmp)
            files[name] = len(load_docs(output / name))
    sources = Counter(str(task["meta"].get("source", "unknown")) for task in tasks)
    entities = sum(len(task.get("spans") or []) for task in tasks)
    manifest = {"run": run_dir.name, "round": k, "lang": loop.get("lang"), "annotator": loop.get("annotator"),
                "strategy": loop.get("strategy"), "seed": loop.get("seed"), "dev": loop.get("dev", "oracle"),
                "files": files, "sentences_by_source": dict(sources), "entities": entities,
                "label_policy": loop.get("label_policy"), "audit": loop.get("audit"),
                "gold_weight": (loop.get("label_policy") or {}).get("gold_weight", 1),
                "tokens_missing": sum(m[1] - m[0] for task in tasks
                                      for m in ((task["meta"].get("label_policy") or {}).get("missing") or [])),
                "train_command": "python -m spacy train <config.cfg> --paths.train train.spacy --paths.dev "
                                 + ("dev.spacy" if "dev.spacy" in files else "<the gold dev split>")}
    write_json(output / "export.json", manifest)
    return manifest
