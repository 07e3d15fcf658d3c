"""Annotation at scale: the usage ledger, the prompt cache and the budget over 100,000 requests (SIMULATED LLM).

The sentences are SYNTHETIC: ``--requests`` x 2 distinct sentences, each two ``--lang`` train sentences joined
(seeded), so that every prompt is new and the server still knows the gold answer. It measures the machinery, not
labels. The project's SIMULATED LLM (gold answers, ``--latency`` seconds per request; not a language model) serves
them from a process of its own on 127.0.0.1. A child process runs the loop's own annotation step
(``loop.annotating.annotate``: the LLM annotator with the ``openai-compatible`` config, TokenNER with 2 sentences
per request, ``--concurrency`` requests in flight, the run's usage ledger, the SQLite prompt cache, the answers
written as they arrive) in four legs over the same files:

1. ``budget``: a budget of ``--budget-share`` of the estimated whole, priced at GPT-4-Turbo's listed price; the
   run must stop inside it;
2. ``budget again``: the same command; nothing more may be sent;
3. ``killed``: the budget lifted; SIGKILL once the server has answered ``--kill-at`` of the requests;
4. ``resumed``: the same command; it must finish.

Then it checks, and fails loudly if one does not hold: every sentence answered once and as the server answered;
the spend of leg 1 within its budget; no request sent in leg 2; the cache holds one answer per distinct prompt; how
many prompts were paid twice (a kill between the answer and its cache entry) and how many answers the server sent
that the ledger never saw (in flight at the kill: a real API bills them). It prints, and writes to ``--doc``, per leg
the requests, seconds, requests per second and the child's peak resident memory; the throughput over each tenth of
the requests; and the sizes of the cache, the ledger and the answers on disk.

    python bench/annotation_scale.py --requests 100000 --latency 0.05 --concurrency 16 \\
        --work bench/results/annotation --doc docs/benchmarks/annotation_scale.md

``--report-only`` writes the page again from the last run (its ``legs.json`` and files under ``--work``).
"""
import argparse
import json
import multiprocessing
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import srsly

ROOT = Path(__file__).resolve().parent.parent
ANNOTATOR = "openai-compatible"
PRICED_AS = "gpt-4-turbo"
LEGS = "legs.json"  # each leg's figures, for --report-only


def synthetic_sentences(corpus: Path, n: int, seed: int, out: Path) -> Path:
    """``out/sentences.msgpack``: ``n`` distinct SYNTHETIC sentences (two sentences of ``corpus``'s train split
    joined), with their gold tags and ids; made once."""
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.data.docs import doc_tags

    path = out / "sentences.msgpack"
    if path.exists() and srsly.read_msgpack(path)["n"] == n:
        return path
    docs = load_docs(corpus / "train.spacy")
    pairs = [([t.text for t in doc], doc_tags(doc)) for doc in docs]
    rng, seen = random.Random(seed), set()
    words: List[List[str]] = []
    tags: List[List[str]] = []
    while len(words) < n:
        (w1, t1), (w2, t2) = rng.choice(pairs), rng.choice(pairs)
        key = tuple(w1 + w2)
        if key in seen:
            continue
        seen.add(key)
        words.append(w1 + w2)
        tags.append(t1 + t2)
    out.mkdir(parents=True, exist_ok=True)
    srsly.write_msgpack(path, {"n": n, "ids": [f"synthetic-{i:07d}" for i in range(n)], "words": words,
                               "tags": tags})
    return path


def serve(path: Path, latency: float, answered: Any, urls: Any) -> None:
    """The SIMULATED LLM over ``path``'s sentences (run in a process of its own); counts the answers it sent."""
    from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer

    sys.stderr = open(os.devnull, "w")  # a client killed mid-request makes the server print a traceback
    data = srsly.read_msgpack(path)

    class Counting(SimulatedLLM):
        def handle(self, prompt: str) -> Tuple[int, str, Dict[str, str]]:
            reply = super().handle(prompt)
            with answered.get_lock():
                answered.value += 1
            self.log.clear()  # the request log is for tests; at this scale it only grows
            return reply

    simulated = Counting({tuple(w): t for w, t in zip(data["words"], data["tags"])}, latency=latency)
    with SimulatedLLMServer(simulated) as server:
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

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


def make_annotator(work: Path, opts: argparse.Namespace, url: str, budget_usd: Optional[float]) -> Any:
    """The loop's LLM annotator on ``url``, with the run's ledger and cache under ``work`` (k-shot examples from
    the corpus's dev split)."""
    from spacy_llm_loop.annotators.base import AnnotationContext
    from spacy_llm_loop.annotators.llm import LLMAnnotator

    annotator = LLMAnnotator(ANNOTATOR, ANNOTATOR, opts.lang, cache_path=str(work / "cache" / "llm.sqlite"),
                             overrides={"endpoint": url, "name": PRICED_AS, "concurrency": opts.concurrency,
                                        "budget_usd": budget_usd})
    annotator.prepare(AnnotationContext(run_dir=work / "run", seed_path=opts.corpus / "dev.spacy", lang=opts.lang))
    annotator.begin_round(1)
    return annotator


def child(opts: argparse.Namespace) -> None:
    """One leg: annotate every sentence not yet answered; print what happened as one JSON line."""
    from spacy_llm_loop.fileio import JsonlLog
    from spacy_llm_loop.loop.annotating import annotate

    start = time.perf_counter()
    data = srsly.read_msgpack(opts.work / "sentences.msgpack")
    del data["tags"]  # the server's, not the annotating process's
    annotator = make_annotator(opts.work, opts, opts.url, opts.budget_usd)
    log = JsonlLog(opts.work / "run" / "annotations.jsonl")
    sentences = _Sentences(annotator.nlp.vocab, data["ids"], data["words"])
    ready = time.perf_counter()
    unanswered = annotate(annotator, log, data["ids"], sentences)
    print(json.dumps({"startup_s": ready - start, "annotate_s": time.perf_counter() - ready,
                      "unanswered": len(unanswered), "budget_exhausted": bool(annotator.budget_exhausted)}))


def _peak_kb(pid: int) -> int:
    """The process's peak resident set (``VmHWM``) in KB, or 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def leg(opts: argparse.Namespace, url: str, budget_usd: Optional[float], answered: Any,
        kill_at: Optional[int] = None) -> Dict[str, Any]:
    """Run one leg in a child process (SIGKILL once the server has answered ``kill_at``); its figures."""
    args = [sys.executable, __file__, "--child", "--work", str(opts.work), "--lang", opts.lang, "--corpus",
            str(opts.corpus), "--url", url, "--concurrency", str(opts.concurrency)]
    args += ["--budget-usd", repr(budget_usd)] if budget_usd else []
    before, start, peak = answered.value, time.perf_counter(), {"kb": 0}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)

    def watch() -> None:
        while proc.poll() is None:
            peak["kb"] = max(peak["kb"], _peak_kb(proc.pid))
            if kill_at is not None and answered.value >= kill_at:
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    watcher.join()
    killed = proc.returncode == -signal.SIGKILL
    if proc.returncode and not killed:
        raise SystemExit(f"a leg failed (exit {proc.returncode})")
    if kill_at is not None and not killed:
        raise SystemExit("the leg to be killed finished first: lower --kill-at or raise --latency")
    figures = json.loads(out.decode().strip().splitlines()[-1]) if not killed else {}
    return {**figures, "wall_s": time.perf_counter() - start, "answered": answered.value - before,
            "peak_mb": peak["kb"] / 1024, "killed": killed}


def billed_usd(records: List[Dict[str, Any]]) -> float:
    """What the ledger's billed requests cost at the price the budget used."""
    from spacy_llm_loop.cost.ledger import billed
    from spacy_llm_loop.llm.pricing import cost_usd, price_for

    price = price_for(PRICED_AS)
    assert price is not None
    return sum(cost_usd(price, int(r["input_tokens"]), int(r["output_tokens"])) for r in billed(records))


def estimated_usd(opts: argparse.Namespace, url: str, words: List[List[str]], sample: int = 2000) -> float:
    """The whole run's cost, extrapolated from the rendered prompts of the first ``sample`` sentences."""
    from spacy_llm_loop.annotators.base import AnnotationRequest

    annotator = make_annotator(opts.work / "estimate", opts, url, None)
    shown = annotator.estimate([AnnotationRequest(str(i), w) for i, w in enumerate(words[:sample])])
    return float(shown["cost_usd"]) * len(words) / min(sample, len(words))


def throughput_by_tenth(records: List[Dict[str, Any]]) -> List[float]:
    """Requests per second over each tenth of the billed requests, in ledger order (legs apart: the gaps between
    legs are left out)."""
    times = [float(r["time"]) for r in records if r.get("cache") == "miss" and r.get("outcome") == "ok"]
    tenth = max(1, len(times) // 10)
    rates = []
    for i in range(0, tenth * 10, tenth):
        chunk = times[i:i + tenth]
        gaps = [b - a for a, b in zip(chunk, chunk[1:]) if b - a < 5.0]
        rates.append(len(gaps) / sum(gaps) if gaps and sum(gaps) else float("nan"))
    return rates


def check(opts: argparse.Namespace, legs: Dict[str, Dict[str, Any]], budget: float, gold: Dict[str, List[str]],
          answered_total: int) -> Dict[str, Any]:
    """The checks (a SystemExit if one fails) and what they counted."""
    from spacy_llm_loop.cost.ledger import read_ledger
    from spacy_llm_loop.fileio import read_jsonl
    from spacy_llm_loop.llm.models.cache import PromptCache

    run = opts.work / "run"
    records, _ = read_ledger(run / "llm-usage.jsonl")
    answers = read_jsonl(run / "annotations.jsonl")
    ids = [a["id"] for a in answers]
    ok = [r for r in records if r.get("cache") == "miss" and r.get("outcome") == "ok"]
    prompts = {r["prompt_hash"] for r in ok}
    cache = PromptCache(opts.work / "cache" / "llm.sqlite")
    cached = len(cache)
    cache.close()
    n_budget = legs["budget"]["billed"]
    failures = []
    if len(ids) != len(set(ids)) or set(ids) != set(gold):
        failures.append(f"answers: {len(ids)} records, {len(set(ids))} distinct, {len(gold)} sentences")
    wrong = sum(a["tags"] != gold[a["id"]] for a in answers)
    if wrong:
        failures.append(f"{wrong} answers differ from the server's")
    spent = billed_usd(records[:legs["budget"]["ledger_end"]])
    if spent > budget:
        failures.append(f"leg 1 spent ${spent:.2f} of a ${budget:.2f} budget")
    if not legs["budget"].get("budget_exhausted"):
        failures.append("leg 1 did not run out of budget")
    if legs["budget again"]["billed"]:
        failures.append(f"leg 2 sent {legs['budget again']['billed']} requests under a spent budget")
    if cached != len(prompts):
        failures.append(f"the cache holds {cached} answers for {len(prompts)} distinct prompts")
    if failures:
        raise SystemExit("checks failed: " + "; ".join(failures))
    return {"sentences": len(gold), "requests_billed": len(ok), "distinct_prompts": len(prompts),
              "paid_twice": len(ok) - len(prompts), "unseen_by_ledger": answered_total - len(ok),
              "budget_usd": budget, "spent_in_budget_usd": spent, "billed_in_budget": n_budget,
              "total_usd": billed_usd(records), "rates": throughput_by_tenth(records)}


def _size_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def report(opts: argparse.Namespace, legs: Dict[str, Dict[str, Any]], counts: Dict[str, Any], argv: Sequence[str],
           measured: str) -> str:
    """The page: the legs, the throughput by tenth, the checks and the files' sizes."""
    run, cache = opts.work / "run", opts.work / "cache" / "llm.sqlite"
    rows = ["| leg | requests billed | answers the server sent | wall seconds | of it starting (reading ledger, "
            "answers, cache) | requests / s | peak resident memory of the annotating process (MB) |",
            "|---|---|---|---|---|---|---|"]
    for name, figures in legs.items():
        annotate_s = figures.get("annotate_s")
        rate = figures["billed"] / annotate_s if annotate_s else figures["billed"] / figures["wall_s"]
        start = f"{figures['startup_s']:.1f}" if "startup_s" in figures else "- (killed)"
        rows.append(f"| {name} | {figures['billed']:,} | {figures['answered']:,} | {figures['wall_s']:.0f} | "
                    f"{start} | {rate:.0f} | {figures['peak_mb']:.0f} |")
    rates = " / ".join(f"{r:.0f}" for r in counts["rates"])
    command = "python bench/annotation_scale.py " + shlex.join(argv)
    note = opts.note_file.read_text(encoding="utf-8").strip() if opts.note_file else ""
    lines = [
        "# Annotation at scale: the ledger, the cache and the budget over many requests", "",
        f"Written by `{command}`. Measured {measured}. One run: no "
        "spread is measured. The LLM is the project's SIMULATED one (gold answers after "
        f"{opts.latency:g} s, in a process of its own on 127.0.0.1; not a language model), and the sentences are "
        "SYNTHETIC (two train sentences joined, all distinct), so this measures the annotation machinery, not "
        "labels. The annotating process is the loop's own annotation step (`loop.annotating.annotate`) with the "
        f"`{ANNOTATOR}` annotator: TokenNER, 2 sentences per request, {opts.concurrency} requests in flight, "
        f"the model named {PRICED_AS} (its listed price is the budget's; the server ignores the name).", "",
        *([note, ""] if note else []),
        *rows, "",
        f"Requests per second over each tenth of the billed requests (ledger times, gaps between legs left out): "
        f"{rates}.", "",
        "| what was checked | result |", "|---|---|",
        f"| every sentence answered exactly once, as the server answered | {counts['sentences']:,} of "
        f"{counts['sentences']:,} |",
        f"| leg 1 (budget ${counts['budget_usd']:.2f}): spent | ${counts['spent_in_budget_usd']:.2f} in "
        f"{counts['billed_in_budget']:,} requests, then refused |",
        f"| leg 2 (the same budget again): requests sent | {legs['budget again']['billed']} |",
        f"| distinct prompts / cache entries | {counts['distinct_prompts']:,} / {counts['distinct_prompts']:,} |",
        f"| prompts paid twice (answered before the kill, not yet cached) | {counts['paid_twice']} |",
        f"| answers the server sent that no ledger records (in flight at the kill: a real API bills them) | "
        f"{counts['unseen_by_ledger']} |",
        f"| whole spend at {PRICED_AS}'s price | ${counts['total_usd']:.2f} |", "",
        "| file | size (MB) | per request (KB) |", "|---|---|---|",
    ]
    for name, paths in (("prompt cache (SQLite, with its WAL)", [cache, cache.with_name(cache.name + "-wal")]),
                        ("usage ledger (JSONL)", [run / "llm-usage.jsonl"]),
                        ("answers (`annotations.jsonl`)", [run / "annotations.jsonl"])):
        size = _size_mb(*paths)
        lines.append(f"| {name} | {size:.1f} | {size * 1024 / max(1, counts['requests_billed']):.2f} |")
    return "\n".join(lines + [""])


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100000, help="requests (2 sentences each)")
    parser.add_argument("--lang", default="tsn")
    parser.add_argument("--corpus", type=Path, help="a folder with train.spacy and dev.spacy (default corpus/<lang>)")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--budget-share", type=float, default=0.4)
    parser.add_argument("--kill-at", type=float, default=0.7, help="share of the requests answered at the SIGKILL")
    parser.add_argument("--work", type=Path, default=Path("bench/results/annotation"))
    parser.add_argument("--doc", type=Path)
    parser.add_argument("--note-file", type=Path, help="Markdown put under the command on the page")
    parser.add_argument("--report-only", action="store_true", help="the page from the last run's legs.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--budget-usd", type=float, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    opts.corpus = opts.corpus or ROOT / "corpus" / opts.lang
    if opts.child:
        return child(opts)
    argv = list(argv if argv is not None else sys.argv[1:])
    if opts.report_only:
        done = srsly.read_json(opts.work / LEGS)
        data = srsly.read_msgpack(opts.work / "sentences.msgpack")
        counts = check(opts, done["legs"], done["budget"], dict(zip(data["ids"], data["tags"])),
                       sum(leg["answered"] for leg in done["legs"].values()))
        return write_page(opts, done["legs"], counts, argv, done["measured"])
    for stale in ("run", "cache", "estimate"):
        shutil.rmtree(opts.work / stale, ignore_errors=True)
    path = synthetic_sentences(opts.corpus, 2 * opts.requests, 0, opts.work)
    data = srsly.read_msgpack(path)
    gold = dict(zip(data["ids"], data["tags"]))
    answered, urls = multiprocessing.Value("q", 0), multiprocessing.Queue()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(path, opts.latency, answered, urls),
                                                         daemon=True)
    server.start()
    try:
        url = urls.get(timeout=600)
        budget = round(opts.budget_share * estimated_usd(opts, url, data["words"]), 2)
        ledger = opts.work / "run" / "llm-usage.jsonl"
        legs: Dict[str, Dict[str, Any]] = {}
        for name, limit, kill in (("budget", budget, None), ("budget again", budget, None),
                                  ("killed", None, int(opts.kill_at * opts.requests)), ("resumed", None, None)):
            before = _billed_count(ledger)
            legs[name] = leg(opts, url, limit, answered, kill)
            legs[name]["billed"] = _billed_count(ledger) - before
            legs[name]["ledger_end"] = len(_ledger_lines(ledger))
            print(name, legs[name], flush=True)
        measured = f"{time.strftime('%Y-%m-%d')} on this machine ({len(os.sched_getaffinity(0))} cores)"
        srsly.write_json(opts.work / LEGS, {"legs": legs, "budget": budget, "measured": measured})
        counts = check(opts, legs, budget, gold, answered.value)
    finally:
        server.kill()
    write_page(opts, legs, counts, argv, measured)


def write_page(opts: argparse.Namespace, legs: Dict[str, Dict[str, Any]], counts: Dict[str, Any],
               argv: Sequence[str], measured: str) -> None:
    """Print the page, and write it to ``--doc``."""
    text = report(opts, legs, counts, [a for a in argv if a != "--report-only"], measured)
    print(text)
    if opts.doc:
        opts.doc.write_text(text, encoding="utf-8")


def _ledger_lines(path: Path) -> List[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.exists() else []


def _billed_count(path: Path) -> int:
    """Billed requests in the ledger so far (a last line cut short by a kill is not one)."""
    count = 0
    for line in _ledger_lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        count += record.get("cache") == "miss" and record.get("outcome") == "ok"
    return count


if __name__ == "__main__":
    main()
