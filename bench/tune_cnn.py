"""Tune the CPU learner's config on dev: one change at a time from configs/learner-cnn.cfg, paired by seed.

For each language and each loop seed, the labelled set of a finished gold-oracle run's round (default: the
seed round, round 0) is retrained with every config variant: the same ``train.spacy`` and the same learner
dev (``dev.spacy``, carved out of the labelled set) for early stopping, learner seed = loop seed. Each model
is scored on MasakhaNER's **dev** split (never test): the choice is made there. ``--test`` also scores the
test split, for the final report of a variant already chosen on dev. Training seconds are recorded (the
issue's budget: a round on zul <= 90 s on 2 cores, ``bench/round_cost.py``).

    python bench/tune_cnn.py --runs bench/results/runs --langs zul tsn --seeds 0 1 2 --out bench/results/tune

Run it from the folder the loop ran in (the runs' paths are relative to it). ``--runs`` takes several folders
(a seed's run is read from the first that holds it), so seeds added later (a seed round alone is enough:
``loop ... --rounds 0``) join the earlier ones. Finished trainings are reused, so an interrupted sweep resumes.
Prints a Markdown table: per variant, mean dev F1 per language, the mean paired difference to the base config
with its 95% t-interval and its range over seeds, and the mean training seconds.
"""
import argparse
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import srsly
from thinc.api import Config

from compare_strategies import find
from spacy_llm_loop.evaluation.evaluate import evaluate_model
from spacy_llm_loop.fileio import write_json
from spacy_llm_loop.learner.train import train_pipeline
from stats import paired

BASE = Path("configs/learner-cnn.cfg")
T2V = "components.tok2vec.model"


def _char_embed(config: Config) -> None:
    """MultiHashEmbed -> CharacterEmbed (NORM hash embedding + the first and last 4 characters)."""
    config["components"]["tok2vec"]["model"]["embed"] = {
        "@architectures": "spacy.CharacterEmbed.v2", "width": "${components.tok2vec.model.encode.width}",
        "rows": 5000, "nM": 64, "nC": 8, "include_static_vectors": False}


# name -> (dotted overrides, an edit of the config or None): one change at a time from the base config.
VARIANTS: Dict[str, Any] = {
    "base": ({}, None),
    "width128": ({f"{T2V}.encode.width": 128}, None),
    "depth2": ({f"{T2V}.encode.depth": 2}, None),
    "depth6": ({f"{T2V}.encode.depth": 6}, None),
    "window2": ({f"{T2V}.encode.window_size": 2}, None),
    "rows2x": ({f"{T2V}.embed.rows": [10000, 2000, 5000, 5000]}, None),
    "chars": ({}, _char_embed),
    "dropout0.2": ({"training.dropout": 0.2}, None),
    "dropout0.3": ({"training.dropout": 0.3}, None),
    "batch50-500": ({"training.batcher.size.start": 50, "training.batcher.size.stop": 500}, None),
    "lr0.002": ({"training.optimizer.learn_rate": 0.002}, None),
    "hidden128": ({"components.ner.model.hidden_width": 128}, None),
    "steps2000": ({"training.max_steps": 2000}, None),
    # the two candidates of the one-change sweep together
    "width128-dropout0.3": ({f"{T2V}.encode.width": 128, "training.dropout": 0.3}, None),
}


def variant_config(name: str, out: Path, base: Path = BASE) -> Path:
    """The config file of a variant (the base file itself, or an edited copy under ``out``)."""
    _, edit = VARIANTS[name]
    if edit is None:
        return base
    config = Config().from_disk(base, interpolate=False)
    edit(config)
    path = out / "configs" / f"{name}.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    config.to_disk(path)
    return path


def run_one(run: Path, k: int, name: str, seed: int, out: Path, test: bool, base: Path = BASE) -> Dict[str, Any]:
    """Train variant ``name`` on round ``k`` of ``run`` with learner seed ``seed``; dev (and test) F1."""
    target = out / run.name / f"round{k}" / name
    result_file = target / "result.json"
    if result_file.exists():
        result = srsly.read_json(result_file)
        if not test or "test_f1" in result:
            return result
    saved = srsly.read_json(run / "run.json")
    corpus = Path(Config().from_str(saved["loop_config"], interpolate=False)["paths"]["corpus"])
    rd = run / f"round-{k:02d}"
    overrides, _ = VARIANTS[name]
    if not (target / "model").exists():
        trained = train_pipeline(variant_config(name, out, base), target / "model", train_path=rd / "train.spacy",
                                 dev_path=rd / "dev.spacy", seed=seed, overrides=dict(overrides),
                                 log_path=target / "train.log")
        write_json(target / "train.json", trained)
    result = {"run": run.name, "round": k, "variant": name, "seed": seed,
              "train_seconds": srsly.read_json(target / "train.json")["seconds"],
              "dev_f1": 100 * evaluate_model(target / "model", corpus / "dev.spacy")["ents_f"]}
    if test:
        result["test_f1"] = 100 * evaluate_model(target / "model", corpus / "test.spacy")["ents_f"]
    write_json(result_file, result)
    return result


def run_path(roots: Sequence[Path], name: str) -> Path:
    """The run folder ``name`` under the first of ``roots`` that holds it (else under the first root)."""
    return find(roots, name) / name


def table(rows: List[Dict[str, Any]], langs: List[str], key: str) -> str:
    """Per variant and language: mean F1, the mean paired difference to base with its 95% t-interval over the
    seeds and its range [min, max], mean training seconds."""
    def get(lang: str, name: str) -> Dict[int, Dict[str, Any]]:
        return {r["seed"]: r for r in rows if r["run"].startswith(f"{lang}-") and r["variant"] == name}

    head = "| variant | " + " | ".join(f"{lang} {key} | {lang} diff to base, 95% CI; range [min, max] | "
                                       f"{lang} train s" for lang in langs) + " |"
    lines = [head, "|" + "---|" * (1 + 3 * len(langs))]
    names = [n for n in VARIANTS if any(r["variant"] == n for r in rows)]
    for name in names:
        cells = [name]
        for lang in langs:
            mine, base = get(lang, name), get(lang, "base")
            seeds = sorted(s for s in mine if s in base and key in mine[s] and key in base[s])
            if not seeds:
                cells += ["", "", ""]
                continue
            values = np.array([mine[s][key] for s in seeds])
            diff = values - np.array([base[s][key] for s in seeds])
            secs = np.mean([mine[s]["train_seconds"] for s in seeds])
            interval = paired({s: mine[s][key] for s in seeds}, {s: base[s][key] for s in seeds})
            cells += [f"{values.mean():.2f}", f"{interval}; range [{diff.min():+.2f}, {diff.max():+.2f}]",
                      f"{secs:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, nargs="+", default=[Path("bench/results/runs")],
                        help="Folders of gold-oracle runs; a run is taken from the first that holds it")
    parser.add_argument("--langs", nargs="+", default=["zul", "tsn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--test", action="store_true", help="Also score test (only for variants chosen on dev)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tune"))
    parser.add_argument("--config", type=Path, default=BASE, help="The base config")
    opts = parser.parse_args()
    os.makedirs(opts.out, exist_ok=True)
    rows: List[Dict[str, Any]] = []
    names = ["base"] + [n for n in opts.variants if n != "base"]
    for name in names:  # variant-major: a stopped sweep has every language for the variants it finished
        for lang in opts.langs:
            for seed in opts.seeds:
                run = run_path(opts.runs, f"{lang}-gold-entropy-seed{seed}")
                rows.append(run_one(run, opts.round, name, seed, opts.out, opts.test, opts.config))
                print(f"{name} {lang} seed {seed}: dev {rows[-1]['dev_f1']:.2f} "
                      f"({rows[-1]['train_seconds']:.0f} s)", flush=True)
    print(f"\nCPU learner variants, round {opts.round} labelled sets of the gold-oracle runs, learner seeds = "
          f"loop seeds {opts.seeds}; MasakhaNER dev split entity F1 (the choice is made here, never on test)\n")
    print(table(rows, opts.langs, "dev_f1"))
    if opts.test:
        print("\nTest split entity F1 (report only)\n")
        print(table(rows, opts.langs, "test_f1"))


if __name__ == "__main__":
    main()
