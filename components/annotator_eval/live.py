"""Ask annotators k times about gold sentences through the loop's own annotator path (``annotator-eval``).

For one language and one annotator (a short name, as ``loop --annotator`` takes, e.g. ``sim-gpt-4-turbo``,
``gpt-4-turbo``, ``openai-compatible``): N entity-rich sentences are drawn, seeded, from the language's
train and dev splits (never test), the k-shot examples from other train sentences, and the annotator is
asked about every sentence ``runs`` times. Each pass is a replicate: an LLM model keys its prompt cache on
the replicate index, so the k passes are k requests (a rerun of the command pays nothing again), and the
ledger tags each request with it. The answers are written in the recorded format (``record_<i>`` with
``tokens``, ``true`` and ``pred``; a dropped answer is ``null``), so :mod:`.report` judges them exactly as it
judges the paper's recordings, and the usage (tokens, cost, latency) and the parser's problems and
repairs come from the ledger and the answers' provenance.
"""
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import srsly
from spacy.tokens import Doc, DocBin
from spacy.util import registry
from thinc.api import Config

from ..annotators.base import (
    AnnotationContext,
    AnnotationRequest,
    Annotator,
    annotator_block,
    as_annotator,
    drop_reason,
)
from ..data.corpus import load_docs
from ..data.docs import doc_tags, get_meta, sentence_id
from ..data.prodigy import doc_to_task
from ..fileio import atomic_path, write_json, write_jsonl
from ..llm.pricing import cost_usd
from ..strategies.seeding import EntityRichSeed

logger = logging.getLogger(__name__)
EVAL_SPLITS = ("train", "dev")  # never test
N_EXAMPLE_POOL = 20  # train sentences (not evaluated) the prompt's k-shot examples are read from


@dataclass(frozen=True)
class EvalSample:
    """What one language is evaluated on: the sentences, and the file the prompt's examples come from."""

    lang: str
    docs: List[Doc]
    examples_path: Path
    gold_corpus: Path


def draw_sample(corpus: Path, lang: str, n: int, seed: int, out: Path) -> EvalSample:
    """``n`` entity-rich sentences from train and dev (seeded), and examples from other train sentences.

    The examples file (Prodigy JSONL) is written to ``out/examples-<lang>.jsonl``, and the sentences with their
    gold labels to ``out/gold-<lang>/train.spacy``: the corpus folder the annotators are built with, so one that
    reads gold labels (the gold oracle, a simulated model) finds the dev sentences too.
    """
    docs: List[Doc] = []
    for split in EVAL_SPLITS:
        path = corpus / f"{split}.spacy"
        if path.exists():
            docs.extend(load_docs(path))
    if not docs:
        raise FileNotFoundError(f"{corpus}: no {' or '.join(EVAL_SPLITS)} split (run `convert {lang}` first)")
    chosen = EntityRichSeed(n)(docs, seed)
    sample = [docs[i] for i in chosen]
    taken = set(chosen)
    rest = [doc for i, doc in enumerate(docs) if i not in taken and get_meta(doc).get("split") == "train"]
    examples = [rest[i] for i in EntityRichSeed(min(N_EXAMPLE_POOL, len(rest)))(rest, seed + 1)] if rest else []
    examples_path = out / f"examples-{lang}.jsonl"
    write_jsonl(examples_path, (doc_to_task(doc) for doc in examples))
    gold = out / f"gold-{lang}"
    gold.mkdir(parents=True, exist_ok=True)
    with atomic_path(gold / "train.spacy") as tmp:
        DocBin(docs=sample, store_user_data=True).to_disk(tmp)
    return EvalSample(lang, sample, examples_path, gold)


def build_annotator(name: str, lang: str, corpus: Path, cache_path: Optional[str] = None,
                    settings: Optional[Dict[str, Any]] = None) -> Annotator:
    """The annotator ``loop --annotator <name>`` would use for ``lang`` (its registered block, resolved).

    ``settings``: more of the block's arguments, as ``--annotator.<key>`` gives them to the loop (e.g. an LLM
    annotator's ``endpoint`` or ``model_name``); None values are left out.
    """
    block = annotator_block(name)
    if cache_path is not None and block.get("@misc", "").endswith("LLMAnnotator.v1"):
        block["cache_path"] = cache_path
    block.update({k: v for k, v in (settings or {}).items() if v is not None})
    config = Config({"paths": {"corpus": str(corpus)}, "loop": {"lang": lang}, "annotator": block}).interpolate()
    return as_annotator(registry.resolve({"annotator": config["annotator"]})["annotator"])


def set_replicate(annotator: Annotator, index: int) -> None:
    """Make the annotator's next requests replicate ``index`` (a model that keys its cache on it asks anew)."""
    model = getattr(annotator, "model", None)
    if model is not None and hasattr(model, "replicate"):
        model.replicate = index
    annotator.begin_round(index)  # the ledger's context: which replicate a request belonged to


def ask_runs(annotator: Annotator, sample: EvalSample, runs: int, folder: Path) -> Dict[str, Any]:
    """Ask about every sentence ``runs`` times; the recording (``<folder>/<lang>.json``) and what it took.

    The ledger of every request for this language is ``<folder>/<lang>/llm-usage.jsonl`` (appended to by reruns).
    """
    (folder / sample.lang).mkdir(parents=True, exist_ok=True)
    annotator.prepare(AnnotationContext(folder / sample.lang, sample.examples_path, sample.lang))
    requests = [AnnotationRequest(sentence_id(doc), [t.text for t in doc]) for doc in sample.docs]
    ledger = getattr(getattr(annotator, "model", None), "ledger", None)
    first_record = ledger.count if ledger is not None else 0  # earlier invocations' records come before
    answers: List[Dict[str, Any]] = []
    seconds: List[float] = []
    for index in range(runs):
        set_replicate(annotator, index)
        start = time.perf_counter()
        got = {a.id: a for a in annotator(requests)}
        seconds.append(time.perf_counter() - start)
        missing = [r.id for r in requests if r.id not in got]
        if missing:
            raise RuntimeError(f"annotator '{annotator.name}' left {len(missing)} of {len(requests)} sentences "
                               f"unanswered in replicate {index} (e.g. {missing[:3]}; budget spent or the API "
                               "failing); run the command again: answers already paid for come from the cache")
        answers.append(got)
        logger.info("%s %s: replicate %d/%d, %d sentences in %.1fs", annotator.name, sample.lang, index + 1, runs,
                    len(requests), seconds[-1])
    recording = {f"record_{i}": {"id": request.id, "tokens": request.words, "true": doc_tags(doc),
                                 "pred": [_run(got[request.id], request.words) for got in answers]}
                 for i, (request, doc) in enumerate(zip(requests, sample.docs))}
    path = folder / f"{sample.lang}.json"
    srsly.write_json(path, recording)
    return {"recording": path, "answers": answers, "seconds": seconds, "n_sentences": len(requests),
            "first_record": first_record}


def _run(annotation: Any, words: Sequence[str]) -> Optional[List[List[str]]]:
    """One answer as a recorded run: ``[token, tag]`` pairs, or ``None`` for a dropped answer."""
    return None if annotation.tags is None else [[w, t] for w, t in zip(words, annotation.tags)]


def parser_outcomes(answers: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Dropped answers by reason, the parser's problems (by kind), answers kept after a repair and the repairs
    made (e.g. an invalid IOB sequence mended, an NFC/NFD token matched), over every answer of every run."""
    total = dropped = repaired = repairs = 0
    reasons: Dict[str, int] = {}
    problems: Dict[str, int] = {}
    for got in answers:
        for a in got.values():
            total += 1
            if a.tags is None:
                dropped += 1
                reason = drop_reason(a.error)
                reasons[reason] = reasons.get(reason, 0) + 1
            for name, count in (a.meta.get("problems") or {}).items():
                problems[name] = problems.get(name, 0) + count
            fixes = a.meta.get("repairs") or []
            repaired += bool(fixes) and a.tags is not None
            repairs += len(fixes)
    return {"answers": total, "dropped": dropped, "drop_rate": dropped / total if total else None,
            "drop_reasons": reasons, "problems": problems, "answers_repaired": repaired,
            "repair_rate": repaired / total if total else None, "repairs": repairs}


def usage_figures(annotator: Annotator, runs: int, n_sentences: int, seconds: Sequence[float],
                  first_record: int = 0) -> Dict[str, Any]:
    """Tokens, cost and latency per sentence from this invocation's ledger records (``first_record`` on: an
    earlier invocation with another sample or model wrote the ones before), and what was paid in all."""
    ledger = getattr(getattr(annotator, "model", None), "ledger", None)
    if ledger is None:
        return {"priced": False, "seconds_per_sentence": sum(seconds) / max(1, runs * n_sentences)}
    records = [r for r in itertools.islice(ledger.iter_records(), first_record, None)
               if (r.get("context") or {}).get("round") in range(runs)]
    latest: Dict[Tuple[Optional[int], str], Dict[str, Any]] = {}
    for r in records:  # the answer each prompt of each replicate got last (asked, or from the cache)
        if r["outcome"] in ("ok", "cache_hit"):
            latest[((r.get("context") or {}).get("round"), r["prompt_hash"])] = r
    inputs = sum(r.get("input_tokens") or 0 for r in latest.values())
    outputs = sum(r.get("output_tokens") or 0 for r in latest.values())
    latencies = [r["latency_s"] for r in records if r["outcome"] == "ok" and r.get("latency_s") is not None]
    price = getattr(annotator, "price", None)
    per = max(1, runs * n_sentences)
    paid = annotator.usage()
    return {"priced": price is not None, "price_per_1k_tokens": list(price) if price else None,
            "input_tokens_per_sentence": inputs / per, "output_tokens_per_sentence": outputs / per,
            "cost_per_1000_sentences_usd": 1000 * cost_usd(price, inputs, outputs) / per if price else None,
            "request_latency_s_mean": sum(latencies) / len(latencies) if latencies else None,
            "seconds_per_sentence": sum(seconds) / per, "requests": len(latest),
            "paid_in_ledger": {k: paid.get(k) for k in ("http_requests", "retries", "errors", "cache_hits",
                                                        "input_tokens", "output_tokens", "cost_usd")}}


def write_sample_ids(sample: EvalSample, path: Path) -> None:
    """The evaluated sentences' ids and the examples file, so the sample can be checked and repeated."""
    write_json(path, {"lang": sample.lang, "sentences": [sentence_id(doc) for doc in sample.docs],
                      "examples": str(sample.examples_path)})
