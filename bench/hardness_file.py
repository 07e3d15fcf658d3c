"""Write a language's hardness file: the reference learners' probability of every gold entity of its train split.

The hardness-aware SIMULATED GPT-4-Turbo (``--annotator sim-gpt-4-turbo-hard``) reads it (its ``hardness``
setting, by default ``corpus/<lang>/hardness.jsonl``) to draw each gold entity's outcome from the tables of its
hardness bucket (``components/simulate/hardness.py``). Two CNN learners (``configs/learner-cnn.cfg``, the default
schedule) are trained on disjoint random samples of 400 gold train sentences (cached in ``--folder``); each
sentence is scored by the learners that did not train on it (``components/simulate/reference.py``). The recorded
sentences (``--recorded``: every ``<model>/<lang>.json`` there) are in no sample, and with ``--recorded-output``
their hardness (under their recorded gold tags) is written too: what ``calibrate``'s v2 profile is fitted on.

    OMP_NUM_THREADS=1 nice -n 10 python bench/hardness_file.py zul --output corpus/zul/hardness.jsonl

A corpus folder without ``train.spacy`` (a language not converted) is read from ``$MASAKHANER_DIR/<lang>``.

``--fit`` fits the v2 error profile instead (``simulate.fit.fit_hardness_profile``) from the recordings and the
recorded sentences' hardness files, with its fidelity (in-sample and leave-one-language-out, 20 seeds as in v1's):

    python bench/hardness_file.py --fit components/resources/profiles/gpt-4-turbo-hardness.json \
        --recorded ../shared/data/llm-annotations/gpt-4-turbo --hardness res/hard/{bam,tsn,zul}/recorded.jsonl
"""
import argparse
import json
import logging
import os
from pathlib import Path
from typing import List

from spacy_llm_loop.annotator_eval.recorded import Recording, read_recording
from spacy_llm_loop.fileio import write_json, write_jsonl
from spacy_llm_loop.simulate.annotate import sentence_key
from spacy_llm_loop.simulate.fidelity import compact, fidelity
from spacy_llm_loop.simulate.fit import HARDNESS_SMOOTHING, fit_hardness_profile, read_all
from spacy_llm_loop.simulate.hardness import Hardness, read_hardness
from spacy_llm_loop.simulate.reference import (
    N_REFERENCES,
    SAMPLE_SEED,
    SEED_SIZE,
    score_sentences,
    train_references,
    write_hardness_file,
)

ROOT = Path(__file__).resolve().parent.parent


def recordings_of(recorded: Path, lang: str) -> List[Recording]:
    """Every recording of ``lang`` under ``recorded`` (``<model>/<lang>.json``)."""
    return [read_recording(path) for path in sorted(recorded.glob(f"*/{lang}.json"))] if recorded.is_dir() else []


def split_path(corpus: Path, lang: str, split: str) -> Path:
    """``corpus/<split>.spacy``, else MasakhaNER's CoNLL file of the split."""
    path = corpus / f"{split}.spacy"
    if path.exists():
        return path
    return Path(os.environ.get("MASAKHANER_DIR", ROOT.parent / "shared" / "data" / "masakhaner2")) / lang / \
        f"{split}.txt"


def options() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lang", nargs="?")
    parser.add_argument("--corpus", type=Path, help="Folder with train.spacy and dev.spacy (default corpus/<lang>)")
    parser.add_argument("--output", type=Path, help="The hardness file (default <corpus>/hardness.jsonl)")
    parser.add_argument("--folder", type=Path, help="Reference learners' folder (default beside --output)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "learner-cnn.cfg")
    parser.add_argument("--recorded", type=Path, default=ROOT.parent / "shared" / "data" / "llm-annotations",
                        help="Recordings: their sentences of this language are in no reference sample")
    parser.add_argument("--recorded-output", type=Path, help="Also write the recorded sentences' hardness here")
    parser.add_argument("--seed-size", type=int, default=SEED_SIZE)
    parser.add_argument("--sample-seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--fit", type=Path, help="Fit the v2 profile to this file (no lang; see above)")
    parser.add_argument("--hardness", type=Path, nargs="+", default=[], help="--fit: recorded sentences' hardness")
    parser.add_argument("--smoothing", type=float, default=HARDNESS_SMOOTHING, help="--fit: bucket smoothing")
    parser.add_argument("--fidelity-seeds", type=int, default=20, help="--fit: seeds of the fidelity figures")
    return parser.parse_args()


REFERENCE = {"learner": "configs/learner-cnn.cfg (CNN, beam uncertainty), default schedule (1200 steps)",
             "learners": N_REFERENCES, "sample_size": SEED_SIZE, "sample_seed": SAMPLE_SEED,
             "samples": "disjoint random samples of the language's gold train split, the recorded sentences left out",
             "dev": "the gold dev split minus the recorded sentences",
             "scoring": "a sentence's p: the mean over the reference learners that did not train on it",
             "made_by": "bench/hardness_file.py"}


def fit(opts: argparse.Namespace) -> None:
    """The v2 profile of ``--recorded`` with the recorded sentences' ``--hardness``, and its fidelity."""
    recordings = read_all([opts.recorded])
    hardness = Hardness()
    for path in opts.hardness:
        hardness.update(read_hardness(path))
    profile = fit_hardness_profile(recordings, hardness, smoothing=opts.smoothing, reference=REFERENCE)
    result = fidelity(recordings, profile, seeds=range(opts.fidelity_seeds), hardness=hardness)
    profile["fidelity"] = compact(result)
    write_json(opts.fit, profile)
    print(json.dumps({"output": str(opts.fit), **{k: profile["hardness"][k] for k in (
        "entities", "entities_with_hardness", "learner_spans")}}, indent=2))


def main() -> None:
    opts = options()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("spacy_llm_loop.data").setLevel(logging.ERROR)  # the CoNLL reader's repairs
    if opts.fit:
        return fit(opts)
    if not opts.lang:
        raise SystemExit("give a language (or --fit)")
    corpus = opts.corpus or ROOT / "corpus" / opts.lang
    output = opts.output or corpus / "hardness.jsonl"
    train, dev = split_path(corpus, opts.lang, "train"), split_path(corpus, opts.lang, "dev")
    recordings = recordings_of(opts.recorded, opts.lang)
    exclude = sorted({sentence_key(r.tokens) for recording in recordings for r in recording.records})
    summary = write_hardness_file(train, dev, output, opts.config, folder=opts.folder, size=opts.seed_size,
                                  seed=opts.sample_seed, exclude=exclude)
    if opts.recorded_output:
        references = train_references(train, dev, opts.folder or output.parent / "reference", opts.config,
                                      size=opts.seed_size, seed=opts.sample_seed, exclude=exclude)
        seen = {}
        for recording in recordings:
            for r in recording.records:
                seen.setdefault(sentence_key(r.tokens), (f"{recording.model}/{recording.lang}/{r.key}", r.tokens,
                                                         r.gold))
        write_jsonl(opts.recorded_output, score_sentences(references, list(seen.values())))
        summary["recorded_output"] = str(opts.recorded_output)
        summary["recorded_sentences"] = len(seen)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
