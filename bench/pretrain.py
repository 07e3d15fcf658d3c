"""Pretraining the CNN learner's tok2vec on the pool: the gold-oracle loop with and without it, paired by seed.

For each language, ``pretrain`` runs once (characters objective, ``--epochs`` passes over the target's pool
text, its labels unused; seed 0) and every round of every seed starts from those weights
(``--init-tok2vec``). The other settings are the project's defaults (CNN learner, entity-rich 5% gold seed, 5%
per round by mean token entropy, 5 rounds, the learner's dev data carved out of its labelled set, the gold
oracle). It prints per round the test entity F1 of both arms and the paired difference (95% t-interval), and
the paired difference on MasakhaNER's gold dev split (not used by the loop; where a choice is made).

``--ner-from auto`` (or ``"nya swa"``): the tok2vec is instead trained once on those languages' gold NER
(``pretrain --ner-from``, sequential transfer, seed 0); give it its own ``--out``, since its runs are named like
pretraining's (``...-pt-seed<k>``).

    python bench/pretrain.py --langs zul tsn --seeds 0 1 2 --jobs 2 --out bench/results \
        --baseline-runs bench/results/runs

``--baseline-runs``: read the no-pretraining arm from there (``bench/label_efficiency.py``'s gold entropy runs;
``bench/transfer.py`` checks that they reproduce with today's code). Every run is resumable.
"""
import argparse
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import srsly

from jobs import run_all
from stats import mean_sd, paired
from transfer import f1_by_round, folder


def pretrain_dir(opts: argparse.Namespace, lang: str) -> Path:
    """Where the language's pretraining goes (``<lang>-ner-<sources>`` with ``--ner-from``)."""
    return opts.out / "pretrain" / (f"{lang}-ner-{'+'.join(opts.ner_from.split())}" if opts.ner_from else lang)


def weights(opts: argparse.Namespace, lang: str) -> Path:
    """Where the language's pretrained weights go."""
    return pretrain_dir(opts, lang) / "weights" / "model-last.bin"


def pretrain_job(opts: argparse.Namespace, lang: str) -> Tuple[str, List[str]]:
    """The ``pretrain`` command of one language: the characters objective on its pool, or ``--ner-from``."""
    how = ["--ner-from", opts.ner_from] if opts.ner_from else ["--epochs", str(opts.epochs)]
    return f"pretrain-{lang}", ["pretrain", lang, *how, "--output", str(pretrain_dir(opts, lang))]


def pretrain_jobs(opts: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """The ``pretrain`` commands still to run: a language whose ``pretrain.json`` (written last) exists is done, and
    its weights are reused rather than trained again, unless they were pretrained for another ``--epochs`` (the
    sources of ``--ner-from`` are in the folder's name): then it stops, naming the file."""
    todo = []
    for lang in opts.langs:
        path = pretrain_dir(opts, lang) / "pretrain.json"
        if not path.exists():
            todo.append(pretrain_job(opts, lang))
        elif not opts.ner_from and (epochs := srsly.read_json(path).get("epochs")) != opts.epochs:
            raise SystemExit(f"{path}: pretrained for {epochs} epochs, not --epochs {opts.epochs}: give another "
                             "--out, or delete its folder to pretrain again")
    return todo


def jobs(opts: argparse.Namespace, lang: str) -> List[Tuple[str, List[str]]]:
    """The loops of one language with its pretrained weights (and without, unless read from elsewhere)."""
    todo = []
    for seed in opts.seeds:
        base = ["loop", "--lang", lang, "--annotator", "gold", "--strategy", "entropy", "--seed", str(seed),
                "--rounds", str(opts.rounds), "--runs-dir", str(opts.out / "runs")]
        todo.append((f"{lang}-gold-entropy-pt-seed{seed}", base + ["--init-tok2vec", str(weights(opts, lang))]))
        if opts.baseline_runs is None:
            todo.append((folder(lang, seed), base))
    return todo


def lang_table(opts: argparse.Namespace, lang: str) -> List[str]:
    """The table of one language."""
    base, _ = f1_by_round(opts.baseline_runs or opts.out / "runs", lambda s: folder(lang, s), opts.seeds,
                          opts.rounds)
    pt, _ = f1_by_round(opts.out / "runs", lambda s: f"{lang}-gold-entropy-pt-seed{s}", opts.seeds, opts.rounds)
    base_dev, _ = f1_by_round(opts.baseline_runs or opts.out / "runs", lambda s: folder(lang, s), opts.seeds,
                              opts.rounds, "dev")
    pt_dev, _ = f1_by_round(opts.out / "runs", lambda s: f"{lang}-gold-entropy-pt-seed{s}", opts.seeds, opts.rounds,
                            "dev")
    info_path = pretrain_dir(opts, lang) / "pretrain.json"
    info = srsly.read_json(info_path) if info_path.exists() else {}
    if opts.ner_from:
        sources, dev = info.get("sentences") or {}, info.get("source_dev_ents_f")
        what = (f"tok2vec trained on the gold NER of {', '.join(sources) or '?'} "
                f"({sum(sources.values()) if sources else '?'} sentences, their dev entity F1 "
                f"{'?' if dev is None else f'{100 * dev:.2f}'}), {info.get('seconds', '?')} s")
    else:
        what = (f"pretrained on {info.get('sentences', '?')} pool sentences, {info.get('epochs', '?')} epochs, "
                f"{info.get('seconds', '?')} s")
    lines = [f"### {lang} ({what})", "",
             "| round | F1, no pretraining | F1, pretrained tok2vec | pretrained - none (paired, 95% CI) | "
             "pretrained - none, gold dev split (paired) |", "|---|---|---|---|---|"]
    for k in sorted(set(base) | set(pt)):
        lines.append(f"| {k} | {mean_sd(list(base.get(k, {}).values()))} | {mean_sd(list(pt.get(k, {}).values()))} | "
                     f"{paired(pt.get(k, {}), base.get(k, {}))} | {paired(pt_dev.get(k, {}), base_dev.get(k, {}))} |")
    rounds = [k for k in sorted(pt) if k in base]
    if rounds:
        gains = [np.mean([pt[k][s] - base[k][s] for s in set(pt[k]) & set(base[k])]) for k in rounds]
        lines.append(f"\n- mean paired gain over rounds 0-{rounds[-1]}: {np.mean(gains):+.2f} F1")
    return lines + [""]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", nargs="+", default=["zul", "tsn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--ner-from", default="",
                        help="Instead of the pool: the tok2vec trained on these languages' gold NER ('auto' or "
                             "'nya swa'); give it its own --out")
    parser.add_argument("--jobs", type=int, default=1, help="Runs at once (each uses one BLAS thread)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--baseline-runs", type=Path, default=None)
    parser.add_argument("--report-only", action="store_true")
    opts = parser.parse_args(argv)
    if not opts.report_only:
        run_all(pretrain_jobs(opts), opts.out / "logs", opts.jobs)  # the loops start from these weights
        run_all([job for lang in opts.langs for job in jobs(opts, lang)], opts.out / "logs", opts.jobs)
    kind = f"trained on other languages' gold NER ({opts.ner_from})" if opts.ner_from else "pretrained on the pool"
    lines = [f"## tok2vec {kind} (gold oracle, entropy, CNN learner, seeds {opts.seeds})", ""]
    for lang in opts.langs:
        lines += lang_table(opts, lang)
    text = "\n".join(lines)
    print(text)
    (opts.out / "pretrain.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
