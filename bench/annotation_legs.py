"""The processes of ``bench/annotation_scale.py``: its SYNTHETIC sentences, the SIMULATED LLM server, and a leg.

Run as a script, it is one leg: the loop's annotation step over every sentence not yet answered, as the CLI runs it
(progress bar on), printing one JSON line of timings at the end. The server and the sentences are made by the
benchmark's own process (see ``bench/annotation_scale.py``).
"""
import argparse
import json
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import srsly

ANNOTATOR = "openai-compatible"
PRICED_AS = "gpt-4-turbo"  # the model name sent: its listed price is the budget's (the server ignores the name)


def synthetic_sentences(corpus: Path, n: int, seed: int, out: Path) -> Path:
    """``out/sentences.msgpack``: ``n`` distinct SYNTHETIC sentences (two sentences of ``corpus``'s train split
    joined), with their gold tags and ids; made once for the same corpus, size and seed."""
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import doc_tags

    path, made_from = out / "sentences.msgpack", {"n": n, "corpus": str(corpus.resolve()), "seed": seed}
    if path.exists() and {k: srsly.read_msgpack(path).get(k) for k in made_from} == made_from:
        return path
    pairs = [([t.text for t in doc], doc_tags(doc)) for doc in load_docs(corpus / "train.spacy")]
    if n > len(pairs) * (len(pairs) - 1) // 2:
        raise SystemExit(f"{len(pairs)} train sentences cannot make {n} distinct pairs")
    rng, seen = random.Random(seed), set()
    words: List[List[str]] = []
    tags: List[List[str]] = []
    while len(words) < n:
        (w1, t1), (w2, t2) = rng.choice(pairs), rng.choice(pairs)
        if tuple(w1 + w2) not in seen:
            seen.add(tuple(w1 + w2))
            words.append(w1 + w2)
            tags.append(t1 + t2)
    out.mkdir(parents=True, exist_ok=True)
    srsly.write_msgpack(path, {**made_from, "ids": [f"synthetic-{i:07d}" for i in range(n)], "words": words,
                               "tags": tags})
    return path


class _Delivered(list):
    """The server's list of delivered answers, also counted in a number shared with the benchmark's process."""

    def __init__(self, counter: Any) -> None:
        super().__init__()
        self.counter = counter

    def append(self, item: Any) -> None:
        super().append(item)
        with self.counter.get_lock():
            self.counter.value += 1


def serve(path: Path, latency: float, delivered: Any, urls: Any) -> None:
    """The SIMULATED LLM over ``path``'s sentences, in a process of its own; counts the answers it delivered."""
    from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer

    data = srsly.read_msgpack(path)
    simulated = SimulatedLLM({tuple(w): t for w, t in zip(data["words"], data["tags"])}, latency=latency)
    simulated.answered = _Delivered(delivered)
    with SimulatedLLMServer(simulated) as server:
        server.httpd.handle_error = lambda request, address: None  # a client killed mid-request: no traceback
        urls.put(server.url)
        while True:
            time.sleep(3600)


class _Sentences(Mapping):
    """id -> Doc, made when asked (the annotation step reads each sentence's words once)."""

    def __init__(self, vocab: Any, ids: List[str], words: List[List[str]]) -> None:
        from spacy_llm_loop.data.docs import make_doc

        self._make, self._vocab = make_doc, vocab
        self._words = dict(zip(ids, words))

    def __getitem__(self, key: str) -> Any:
        return self._make(self._vocab, self._words[key])

    def __contains__(self, key: object) -> bool:
        return key in self._words

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


def make_annotator(work: Path, lang: str, corpus: Path, url: str, concurrency: int,
                   budget_usd: Optional[float]) -> Any:
    """The loop's LLM annotator on ``url``, with the run's ledger and cache under ``work`` (k-shot examples from
    the corpus's dev split)."""
    from spacy_llm_loop.annotators.base import AnnotationContext
    from spacy_llm_loop.annotators.llm import LLMAnnotator

    annotator = LLMAnnotator(ANNOTATOR, ANNOTATOR, lang, cache_path=str(work / "cache" / "llm.sqlite"),
                             overrides={"endpoint": url, "name": PRICED_AS, "concurrency": concurrency,
                                        "budget_usd": budget_usd})
    annotator.prepare(AnnotationContext(run_dir=work / "run", seed_path=corpus / "dev.spacy", lang=lang))
    annotator.begin_round(1)
    return annotator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("--work", "--corpus"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--lang", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--budget-usd", type=float)
    opts = parser.parse_args()
    from spacy_llm_loop.fileio import JsonlLog
    from spacy_llm_loop.loop.annotating import annotate

    start = time.perf_counter()
    data = srsly.read_msgpack(opts.work / "sentences.msgpack")
    del data["tags"]  # the server's, not the annotating process's
    annotator = make_annotator(opts.work, opts.lang, opts.corpus, opts.url, opts.concurrency, opts.budget_usd)
    built = time.perf_counter()
    log = JsonlLog(opts.work / "run" / "annotations.jsonl")
    sentences = _Sentences(annotator.nlp.vocab, data["ids"], data["words"])
    ready = time.perf_counter()
    unanswered = annotate(annotator, log, data["ids"], sentences, progress=True, round_k=1)
    figures: Dict[str, Any] = {"startup_s": ready - start, "annotator_s": built - start,
                               "annotate_s": time.perf_counter() - ready, "unanswered": len(unanswered),
                               "budget_exhausted": bool(annotator.budget_exhausted)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
