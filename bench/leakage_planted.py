"""The memorisation probes on planted memorisation: do they find what was planted, and only that?

A SIMULATED memorising chat endpoint (``components/simulate/memorising.py``) has memorised a planted share
of a language's MasakhaNER sentences (a seeded hash picks them): it answers quizzes right, names the dataset
and completes sentences exactly for those, and answers like a model that does not know for the rest. The
probes run against it over HTTP through the project's chat client (cache and ledger as annotation uses),
as ``leakage --probe-annotator`` runs them, at each planted share; then, in process, the share of
replicates at 0% that the verdict flags (the false-positive rate, stated alpha 0.05).

    python bench/leakage_planted.py --lang tsn --n 100 --replicates 100
"""
import argparse
import tempfile
from pathlib import Path

from spacy_llm_loop.leakage.probes.client import complete_with, probe_model
from spacy_llm_loop.leakage.probes.run import probe_languages
from spacy_llm_loop.leakage.probes.sample import load_sentences
from spacy_llm_loop.simulate.memorising import MemorisingLLM, MemorisingServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="tsn")
    parser.add_argument("--corpus-root", type=Path, default=Path("corpus"))
    parser.add_argument("--planted", nargs="+", type=float, default=[0.0, 0.1, 0.5])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--replicates", type=int, default=100)
    opts = parser.parse_args()
    corpus = opts.corpus_root / opts.lang
    sentences = load_sentences(corpus / "test.spacy") + load_sentences(corpus / "train.spacy")
    lines = [f"Planted memorisation, {opts.lang}: n = {opts.n} sentences per probe, probe seed 0, over HTTP", "",
             "| planted share | probe | estimated share [95% CI] | covers the planted share | p | verdict |",
             "|---|---|---|---|---|---|"]
    for planted in opts.planted:
        llm = MemorisingLLM(sentences, planted, seed=1)
        with tempfile.TemporaryDirectory() as tmp, MemorisingServer(llm) as server:
            model = probe_model("openai-compatible", endpoint=server.url, cache_path=str(Path(tmp) / "c.sqlite"),
                                ledger_path=str(Path(tmp) / "ledger.jsonl"), interval=0.01)
            result = probe_languages(opts.corpus_root, [opts.lang], complete_with(model, "leakage"), n=opts.n)
        verdict = result["verdict"]["languages"][opts.lang]["verdict"]
        for name, r in result["results"][opts.lang].items():
            share = r["memorised_share"]
            covers = "yes" if share["low"] <= planted <= share["high"] else "NO"
            lines.append(f"| {planted:.0%} | {name} | {share['estimate']:.3f} "
                         f"[{share['low']:.3f}, {share['high']:.3f}] "
                         f"| {covers} | {r['test']['p_value']:.3g} | {verdict} |")
    flagged = 0
    for r in range(opts.replicates):
        llm = MemorisingLLM(sentences, 0.0, seed=100 + r)
        result = probe_languages(opts.corpus_root, [opts.lang], llm.complete, n=opts.n, seed=r,
                                 probes=("text_quiz", "label_quiz", "completion"))
        flagged += result["verdict"]["overall"] == "memorisation detected"
    lines += ["", f"False positives at 0% planted: {flagged} of {opts.replicates} replicates flagged "
                  f"({flagged / opts.replicates:.1%}; stated alpha 0.05)"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
