"""LLM annotation throughput: our concurrent model vs stock spacy-llm, against a SIMULATED LLM with fixed latency.

Starts the project's local OpenAI-compatible SIMULATED LLM server (answers from
gold labels; not a language model) with ``--latency`` seconds per request, and
labels the same ``--n`` train sentences three ways in the same run:

1. stock spacy-llm: ``spacy.NER.v3`` with ``spacy.GPT-4.v3`` pointed at the server
   (its ``_verify_auth`` call to api.openai.com is patched out; it sends one request at a time);
2. ``spacy.NER.v3`` with our ``spacy-llm-loop.OpenAIChat.v1`` at ``--concurrency`` (same prompts, same answers:
   the labels must be identical to 1.);
3. our annotator as the loop uses it: ``spacy-llm-loop.TokenNER.v1`` (2 sentences per request) with our model.

Then prints prompt tokens per sentence of the TokenNER prompt at 1, 2 and 4 sentences
per request (cl100k_base, with the default 2 k-shot examples).

    python bench/llm_throughput.py --lang zul --n 500 --latency 0.3 --concurrency 16
"""
import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import spacy
from spacy.language import Language
from spacy.util import load_config

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import doc_tags, make_doc
from spacy_llm_loop.data.prodigy import doc_to_task
from spacy_llm_loop.fileio import write_jsonl
from spacy_llm_loop.llm.tasks.token_ner.examples import make_token_ner_examples
from spacy_llm_loop.llm.tasks.token_ner.registry import make_token_ner_task
from spacy_llm_loop.llm.tokens import count_tokens, tokenizer_name
from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer, gold_from

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / "components" / "resources" / "annotators"


def build(config: Path, overrides: Dict[str, Any]) -> Language:
    """An ``llm`` pipeline from an annotator config with ``overrides``."""
    return spacy.util.load_model_from_config(load_config(config, overrides=overrides, interpolate=True),
                                             auto_fill=True, validate=True)


def label(nlp: Language, sentences: List[List[str]]) -> Tuple[float, List[List[str]]]:
    """Seconds taken and the IOB tags of every sentence."""
    docs = [make_doc(nlp.vocab, words) for words in sentences]
    start = time.perf_counter()
    out = list(nlp.pipe(docs, batch_size=len(docs)))
    return time.perf_counter() - start, [doc_tags(doc) for doc in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="zul")
    parser.add_argument("--n", type=int, default=500, help="Sentences (from the train split)")
    parser.add_argument("--latency", type=float, default=0.3, help="Seconds per request at the server")
    parser.add_argument("--concurrency", type=int, default=16)
    opts = parser.parse_args()
    corpus = ROOT / "corpus" / opts.lang
    docs = load_docs(corpus / "train.spacy")
    seed_docs, docs = docs[:50], docs[50:50 + opts.n]
    sentences = [[t.text for t in doc] for doc in docs]
    gold = [doc_tags(doc) for doc in docs]
    simulated = SimulatedLLM(gold_from(corpus / "train.spacy"), latency=opts.latency)

    import spacy_llm.models.rest.openai.model as stock_openai  # noqa: E402

    stock_openai.OpenAI._verify_auth = lambda self: None  # it calls api.openai.com/v1/models even with an endpoint
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-placeholder-not-a-key")
    rows = []
    seed_path = Path(tempfile.mkdtemp(prefix="llm-bench-")) / "seed.jsonl"
    with SimulatedLLMServer(simulated) as server:
        write_jsonl(seed_path, (doc_to_task(doc) for doc in seed_docs))
        ner_v3 = PACKAGED / "ner-v3.cfg"
        stock = build(ner_v3, {"components.llm.model": {"@llm_models": "spacy.GPT-4.v3", "name": "gpt-4-turbo",
                                                        "endpoint": server.url, "config": {"temperature": 0.1}}})
        ours = {"components.llm.model.endpoint": server.url, "components.llm.model.concurrency": opts.concurrency,
                "components.llm.model.requests_per_minute": None, "components.llm.model.tokens_per_minute": None}
        ours_v3 = build(ner_v3, ours)
        token_ner = build(PACKAGED / "openai-compatible.cfg",
                          {**ours, "components.llm.task.lang": opts.lang,
                           "components.llm.task.examples.path": str(seed_path)})
        runs = [("stock spacy-llm: spacy.NER.v3 + spacy.GPT-4.v3 (sequential)", stock),
                (f"spacy.NER.v3 + spacy-llm-loop.OpenAIChat.v1 (concurrency {opts.concurrency})", ours_v3),
                (f"spacy-llm-loop.TokenNER.v1 (2 sentences/request) + OpenAIChat.v1 (concurrency {opts.concurrency})",
                 token_ner)]
        results = {}
        for name, nlp in runs:
            n_before = len(simulated.log)
            seconds, tags = label(nlp, sentences)
            results[name] = tags
            rows.append((name, len(simulated.log) - n_before, seconds, len(sentences) / seconds))
    base = rows[0][3]
    same = sum(a == b for a, b in zip(results[runs[0][0]], results[runs[1][0]]))
    exact = sum(a == b for a, b in zip(results[runs[2][0]], gold))
    print(f"LLM annotation throughput, {opts.lang}: {len(sentences)} train sentences, SIMULATED LLM server on "
          f"127.0.0.1 with {opts.latency} s latency per request; {os.cpu_count()} cores\n")
    print("| annotator | requests | seconds | sentences/s | speed-up vs stock |\n|---|---|---|---|---|")
    for name, requests, seconds, rate in rows:
        print(f"| {name} | {requests} | {seconds:.1f} | {rate:.1f} | {rate / base:.1f}x |")
    print(f"\nSame labels for the same answers (rows 1 and 2): {same}/{len(sentences)} sentences identical.")
    print(f"TokenNER labels equal to the server's (gold) answers: {exact}/{len(sentences)}.\n")
    print(f"Prompt tokens per sentence, spacy-llm-loop.TokenNER.v1 with 2 k-shot examples ({tokenizer_name()}):\n")
    print("| sentences per request | prompt tokens per request (mean) | prompt tokens per sentence |\n|---|---|---|")
    examples = make_token_ner_examples(str(seed_path), 2)
    for k in (1, 2, 4):
        task = make_token_ner_task(opts.lang, examples=examples, sentences_per_request=k)
        prompts = [task.render(sentences[i:i + k]) for i in range(0, len(sentences), k)]
        tokens = [count_tokens(p) for p in prompts]
        print(f"| {k} | {sum(tokens) / len(tokens):.0f} | {sum(tokens) / len(sentences):.0f} |")


if __name__ == "__main__":
    main()
