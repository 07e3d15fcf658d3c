"""The pre-flight estimate: what a run's annotation will cost, before anything is spent.

The planned sentences are ``rounds x`` the query size (resolved against the pool as the loop resolves it), and
the audit's gold seed sentences (``loop.audit``) when the annotator is not an oracle.
Which sentences a strategy will pick is not known before the learner is trained, so two samples of the
pool (after the seed) are priced through the annotator's own prompts (:meth:`LLMAnnotator.estimate`): a
seeded random sample (the ``typical`` estimate) and the longest sentences (``long``, an upper end: the
uncertainty strategies lean towards long sentences). Prices are those the loop's budget uses.
It is the loop's ``--dry-run``: it reads the loop's own settings and seed sampler, so it lives in the loop
(the cost step, above the loop, only reads what finished runs spent).
"""
import random
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Sequence

from spacy.tokens import Doc

from ..annotators.base import AnnotationContext, AnnotationRequest, Annotator
from ..data.corpus import load_docs, pool_ids, pool_lengths
from ..data.docs import sentence_id
from ..data.prodigy import doc_to_task
from ..fileio import write_jsonl
from ..strategies.seeding import SeedSampler
from .settings import LoopSettings

SAMPLE = 300  # pool sentences priced for each estimate


def planned_per_round(settings: LoopSettings, lengths: Sequence[int]) -> int:
    """Sentences a round asks for, from the pool's sentence lengths (a token budget is turned into sentences of the
    pool's mean length)."""
    n = settings.query_size.n_items(len(lengths))
    if n is None:
        mean = sum(lengths) / max(1, len(lengths))
        n = int(settings.query_size.value / max(mean, 1))
    return min(n, len(lengths))


def _requests(docs: Sequence[Doc]) -> List[AnnotationRequest]:
    return [AnnotationRequest(sentence_id(doc), [t.text for t in doc]) for doc in docs]


def preflight(settings: LoopSettings, sampler: SeedSampler, annotator: Annotator,
              train_docs: Sequence[Doc]) -> Dict[str, Any]:
    """The estimate for a whole run (see the module docstring); ``priced`` False for an annotator without one.

    A corpus with a seed file keeps its pool whole; one whose seed the annotator labels (no seed file, no gold in
    the pool) adds the seed to the sentences to annotate, and its prompts have no examples.
    """
    info = settings.info
    if "seed" in info.splits:
        seed_docs = load_docs(settings.corpus / "seed.spacy")
    else:
        seed_docs = [train_docs[i] for i in sampler(train_docs, settings.seed)]  # the run's seed, in its order
    seed = {sentence_id(doc) for doc in seed_docs}
    ids, all_lengths = pool_ids(train_docs), pool_lengths(train_docs)  # a sharded pool's without its Docs
    pool = [i for i, sid in enumerate(ids) if sid not in seed]  # positions of the pool after the seed
    lengths = [all_lengths[i] for i in pool]
    by_annotator = "seed" not in info.splits and not info.pool_labelled
    per_round = planned_per_round(settings, lengths)
    estimate = getattr(annotator, "estimate", None)
    with tempfile.TemporaryDirectory() as tmp:  # the prompts carry the run's k-shot examples, from its seed
        seed_path = Path(tmp) / "seed.jsonl"
        write_jsonl(seed_path, (doc_to_task(doc) for doc in ([] if by_annotator else seed_docs)))
        annotator.prepare(AnnotationContext(Path(tmp), seed_path, settings.lang, labels=settings.labels,
                                            language=settings.language))
        audited = _audited(settings, annotator, seed_docs, by_annotator)
        planned = min(per_round * settings.rounds, len(pool)) + (len(seed) if by_annotator else 0) + audited
        out: Dict[str, Any] = {"annotator": annotator.name, "rounds": settings.rounds, "per_round": per_round,
                               "planned_sentences": planned, "pool": len(pool), "seed": len(seed),
                               "seed_by_annotator": by_annotator, "audit_sentences": audited}
        if estimate is None or not pool:
            return {**out, "priced": False, "note": f"annotator '{annotator.name}' costs nothing per request"}
        return _priced(out, settings, train_docs, pool, all_lengths, planned, estimate)


def _audited(settings: LoopSettings, annotator: Annotator, seed_docs: Sequence[Doc], by_annotator: bool) -> int:
    """Seed sentences the audit will ask for (``loop.audit``): none for an oracle or a seed the annotator labels,
    never the annotator's own examples."""
    audit = getattr(settings, "audit", None)
    if audit is None or by_annotator or getattr(annotator, "gives_gold", False) or not settings.rounds:
        return 0
    shown = {tuple(words) for words in annotator.example_sentences()} if hasattr(annotator, "example_sentences") \
        else set()
    candidates = sum(tuple(t.text for t in doc) not in shown for doc in seed_docs)
    return min(audit or candidates, candidates)


def _priced(out: Dict[str, Any], settings: LoopSettings, train_docs: Sequence[Doc], pool: Sequence[int],
            lengths: Sequence[int], planned: int, estimate: Any) -> Dict[str, Any]:
    """Price two samples of the pool (positions ``pool`` into ``train_docs``): a seeded random one and the longest
    sentences; only the sampled sentences become Docs."""
    positions = {"typical": random.Random(settings.seed).sample(list(pool), min(SAMPLE, len(pool))),
                 "long": sorted(pool, key=lambda i: lengths[i], reverse=True)[:SAMPLE]}
    for name, chosen in positions.items():
        docs = [train_docs[i] for i in chosen]
        priced = estimate(_requests(docs))
        scale = planned / max(1, priced["sentences"])
        out[name] = {"input_tokens": round(priced["input_tokens"] * scale),
                     "output_tokens": round(priced["output_tokens"] * scale),
                     "cost_usd": None if priced["cost_usd"] is None else priced["cost_usd"] * scale,
                     "sampled_sentences": priced["sentences"], "mean_words": sum(map(len, docs)) / len(docs)}
        out["price_per_1k"], out["tokenizer"] = priced["price_per_1k"], priced["tokenizer"]
    return {**out, "priced": out.get("price_per_1k") is not None}


def describe(estimate: Dict[str, Any]) -> str:
    """One paragraph for the console."""
    seed = f" + the seed's {estimate['seed']}" if estimate.get("seed_by_annotator") else ""
    seed += f" + {estimate['audit_sentences']} for the audit" if estimate.get("audit_sentences") else ""
    head = (f"pre-flight: {estimate['rounds']} rounds x {estimate['per_round']} sentences{seed} = "
            f"{estimate['planned_sentences']} to annotate with '{estimate['annotator']}'"
            + (f" into {estimate['run']}" if estimate.get("run") else ""))
    if "typical" not in estimate:
        return f"{head}; {estimate.get('note', '')}"
    parts = []
    for name in ("typical", "long"):
        e = estimate[name]
        cost = "unpriced (no price for this model)" if e["cost_usd"] is None else f"${e['cost_usd']:.2f}"
        parts.append(f"{name} sentences ({e['mean_words']:.0f} words): {e['input_tokens']:,} input + "
                     f"{e['output_tokens']:,} output tokens, {cost}")
    return f"{head}; " + "; ".join(parts) + f" (tokens counted with {estimate['tokenizer']})"
