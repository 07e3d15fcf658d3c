"""Annotation at scale: the usage ledger, the prompt cache and the budget over 100,000 requests (SIMULATED LLM).

The sentences are SYNTHETIC: ``--requests`` x 2 distinct sentences, each two ``--lang`` train sentences joined
(seeded), so that every prompt is new and the server still knows the gold answer. It measures the machinery, not
labels. The project's SIMULATED LLM (gold answers, ``--latency`` seconds per request; not a language model) serves
them from a process of its own on 127.0.0.1. A child process (``bench/annotation_legs.py``) runs the loop's own
annotation step as the CLI runs it (``loop.annotating.annotate``, progress bar on: the LLM annotator with the
``openai-compatible`` config, TokenNER, ``--concurrency`` requests in flight, the run's usage ledger, the SQLite
prompt cache, the answers written as they arrive) in four legs over the same files:

1. ``budget``: a budget of ``--budget-share`` of the estimated whole, priced at GPT-4-Turbo's listed price;
2. ``budget again``: the same command;
3. ``killed``: the budget lifted; SIGKILL once the server has delivered ``--kill-at`` of the requests;
4. ``resumed``: the same command.

It fails loudly unless: every sentence is answered once and as the server answered; leg 1 runs out of budget
within it, with at most one refusal per request in flight; leg 2 sends nothing; the cache holds one answer per
distinct prompt. It counts (these are not checks) the prompts billed twice in the ledger and the answers the server
delivered that the ledger never recorded (in flight at the kill). It prints, and writes to ``--doc``, per leg the
requests, seconds, requests per second and the child's peak resident memory; the throughput over each tenth of the
requests; and the sizes of the cache, the ledger and the answers on disk.

    python bench/annotation_scale.py --requests 100000 --latency 0.05 --concurrency 16 \\
        --work bench/results/annotation --doc docs/benchmarks/annotation_scale.md

``--report-only`` writes the page again from the last run (its ``legs.json`` and files under ``--work``).
"""
import argparse
import json
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import srsly

from annotation_legs import ANNOTATOR, PRICED_AS, make_annotator, serve, synthetic_sentences
from jobs import one_thread_env

ROOT = Path(__file__).resolve().parent.parent
LEGS = "legs.json"  # each leg's figures, for --report-only


def _peak_kb(pid: int) -> int:
    """The process's peak resident set (``VmHWM``, kept by the kernel: no peak is missed) in KB; 0 once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def leg(opts: argparse.Namespace, url: str, budget_usd: Optional[float], delivered: Any,
        kill_after: Optional[int] = None) -> Dict[str, Any]:
    """Run one leg in a child process (SIGKILL once the server has delivered ``kill_after`` more answers); its
    figures. After a kill it waits for the requests in flight to settle, so their answers count in this leg."""
    args = [sys.executable, str(Path(__file__).with_name("annotation_legs.py")), "--work", str(opts.work), "--lang",
            opts.lang, "--corpus", str(opts.corpus), "--url", url, "--concurrency", str(opts.concurrency)]
    args += ["--budget-usd", repr(budget_usd)] if budget_usd else []
    before, start, peak = delivered.value, time.perf_counter(), {"kb": 0}
    with (opts.work / "legs.err").open("a") as err:  # the progress bar, and any traceback
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=one_thread_env())

    def watch() -> None:
        while proc.poll() is None:
            peak["kb"] = max(peak["kb"], _peak_kb(proc.pid))
            if kill_after is not None and delivered.value - before >= kill_after:
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    watcher.join()
    killed = proc.returncode == -signal.SIGKILL
    if proc.returncode and not killed:
        raise SystemExit(f"a leg failed (exit {proc.returncode}); see {opts.work / 'legs.err'}")
    if kill_after is not None and not killed:
        raise SystemExit("the leg to be killed finished first: lower --kill-at or raise --latency")
    wall = time.perf_counter() - start
    if killed:
        time.sleep(opts.latency + 2.0)
    figures = json.loads(out.decode().strip().splitlines()[-1]) if not killed else {}
    return {**figures, "wall_s": wall, "answered": delivered.value - before, "peak_mb": peak["kb"] / 1024,
            "killed": killed}


def billed_usd(records: List[Dict[str, Any]]) -> float:
    """What the ledger's billed requests cost at the price the budget used."""
    from spacy_llm_loop.cost.ledger import billed
    from spacy_llm_loop.llm.pricing import cost_usd, price_for

    price = price_for(PRICED_AS)
    assert price is not None
    return sum(cost_usd(price, int(r["input_tokens"]), int(r["output_tokens"])) for r in billed(records))


def estimated_usd(annotator: Any, words: List[List[str]], sample: int = 2000) -> float:
    """The whole run's cost, extrapolated from the rendered prompts of the first ``sample`` sentences."""
    from spacy_llm_loop.annotators.base import AnnotationRequest

    shown = annotator.estimate([AnnotationRequest(str(i), w) for i, w in enumerate(words[:sample])])
    return float(shown["cost_usd"]) * len(words) / min(sample, len(words))


def throughput_by_tenth(records: List[Dict[str, Any]]) -> List[float]:
    """Requests per second over each tenth of the billed requests, in ledger order (gaps over 5 s, between legs,
    left out)."""
    times = [float(r["time"]) for r in records if r.get("cache") == "miss" and r.get("outcome") == "ok"]
    tenth = max(1, len(times) // 10)
    rates = []
    for i in range(0, tenth * 10, tenth):
        chunk = times[i:i + tenth]
        gaps = [b - a for a, b in zip(chunk, chunk[1:]) if b - a < 5.0]
        rates.append(len(gaps) / sum(gaps) if gaps and sum(gaps) else float("nan"))
    return rates


def check(opts: argparse.Namespace, done: Dict[str, Any], gold: Dict[str, List[str]]) -> Dict[str, Any]:
    """The checks (a SystemExit if one fails) and what they counted."""
    from spacy_llm_loop.cost.ledger import read_ledger
    from spacy_llm_loop.fileio import read_jsonl
    from spacy_llm_loop.llm.models.cache import PromptCache

    legs, budget, run = done["legs"], done["budget"], opts.work / "run"
    records, _ = read_ledger(run / "llm-usage.jsonl")
    answers = read_jsonl(run / "annotations.jsonl")
    ids = [a["id"] for a in answers]
    ok = [r for r in records if r.get("cache") == "miss" and r.get("outcome") == "ok"]
    prompts = {r["prompt_hash"] for r in ok}
    cache = PromptCache(opts.work / "cache" / "llm.sqlite")
    cached = len(cache)
    cache.close()
    in_budget = records[:legs["budget"]["ledger_end"]]
    refused = sum(r.get("outcome") == "budget_refused" for r in in_budget)
    spent = billed_usd(in_budget)
    failures = []
    if len(ids) != len(set(ids)) or set(ids) != set(gold):
        failures.append(f"answers: {len(ids)} records, {len(set(ids))} distinct, {len(gold)} sentences")
    wrong = sum(a["tags"] != gold[a["id"]] for a in answers)
    if wrong:
        failures.append(f"{wrong} answers differ from the server's")
    if spent > budget or not legs["budget"].get("budget_exhausted") or not 1 <= refused <= opts.concurrency:
        failures.append(f"leg 1 spent ${spent:.2f} of a ${budget:.2f} budget, {refused} refusals in the ledger")
    if legs["budget again"]["billed"] or legs["budget again"]["answered"]:
        failures.append(f"leg 2 sent {legs['budget again']['answered']} requests under a spent budget")
    if cached != len(prompts):
        failures.append(f"the cache holds {cached} answers for {len(prompts)} distinct prompts")
    if failures:
        raise SystemExit("checks failed: " + "; ".join(failures))
    return {"sentences": len(gold), "requests_billed": len(ok), "distinct_prompts": len(prompts), "cached": cached,
            "billed_twice": len(ok) - len(prompts), "unseen_by_ledger": done["delivered"] - len(ok),
            "spent_in_budget_usd": spent, "refused_in_budget": refused, "total_usd": billed_usd(records),
            "rates": throughput_by_tenth(records)}


def _size_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def report(opts: argparse.Namespace, done: Dict[str, Any], counts: Dict[str, Any], argv: Sequence[str]) -> str:
    """The page: the legs, the throughput by tenth, the checks and the files' sizes."""
    legs, run, cache = done["legs"], opts.work / "run", opts.work / "cache" / "llm.sqlite"
    rows = ["| leg | requests billed | answers the server delivered | wall seconds | of it before the first request "
            "(sentences, annotator, ledger totals) | requests / s | peak resident memory of the annotating "
            "process (MB) |", "|---|---|---|---|---|---|---|"]
    for name, figures in legs.items():
        if "annotate_s" in figures:
            start, rate = f"{figures['startup_s']:.1f}", f"{figures['billed'] / figures['annotate_s']:.0f}"
        else:  # killed: no timings came back
            start, rate = "- (killed)", f"{figures['billed'] / figures['wall_s']:.0f} (startup included)"
        rows.append(f"| {name} | {figures['billed']:,} | {figures['answered']:,} | {figures['wall_s']:.0f} | "
                    f"{start} | {rate} | {figures['peak_mb']:.0f} |")
    note = opts.note_file.read_text(encoding="utf-8").strip() if opts.note_file else ""
    lines = [
        "# Annotation at scale: the ledger, the cache and the budget over many requests", "",
        f"Written by `python bench/annotation_scale.py {shlex.join(argv)}`. Measured {done['measured']}. One run: "
        "no spread is measured. The LLM is the project's SIMULATED one (gold answers after "
        f"{opts.latency:g} s, in a process of its own on 127.0.0.1; not a language model), and the sentences are "
        "SYNTHETIC (two train sentences joined, all distinct), so this measures the annotation machinery, not "
        "labels. The annotating process is the loop's own annotation step (`loop.annotating.annotate`, its "
        f"progress bar on as the CLI runs it) with the `{ANNOTATOR}` annotator config ({done['per_request']} "
        f"sentences per request), {opts.concurrency} requests in flight, the model named {PRICED_AS} (its listed "
        "price is the budget's; the server ignores the name).", "",
        *([note, ""] if note else []), *rows, "",
        "Requests per second over each tenth of the billed requests (ledger times, gaps between legs left out): "
        + " / ".join(f"{r:.0f}" for r in counts["rates"]) + ".", "",
        "| checked (the run fails otherwise) | result |", "|---|---|",
        f"| every sentence answered exactly once, as the server answered | {counts['sentences']:,} of "
        f"{counts['sentences']:,} |",
        f"| leg 1 (budget ${done['budget']:.2f}): spent, then refused | ${counts['spent_in_budget_usd']:.2f} in "
        f"{legs['budget']['billed']:,} requests; {counts['refused_in_budget']} refusal records |",
        f"| leg 2 (the same budget again): requests the server received | {legs['budget again']['answered']} |",
        f"| distinct prompts / cache entries | {counts['distinct_prompts']:,} / {counts['cached']:,} |", "",
        "| counted | result |", "|---|---|",
        f"| prompts billed twice in the ledger (answered before the kill, not yet cached) | {counts['billed_twice']} |",
        f"| answers the server delivered that no ledger records (in flight at the kill: a real API bills them, and "
        f"the resumed run asked again) | {counts['unseen_by_ledger']} |",
        f"| whole spend at {PRICED_AS}'s price | ${counts['total_usd']:.2f} |", "",
        "| file | size (MB) | per request (KB) |", "|---|---|---|",
    ]
    for name, paths in (("prompt cache (SQLite, with its WAL)", [cache, cache.with_name(cache.name + "-wal")]),
                        ("usage ledger (JSONL)", [run / "llm-usage.jsonl"]),
                        ("answers (`annotations.jsonl`)", [run / "annotations.jsonl"])):
        size = _size_mb(*paths)
        lines.append(f"| {name} | {size:.1f} | {size * 1024 / max(1, counts['requests_billed']):.2f} |")
    return "\n".join(lines + [""])


def run_legs(opts: argparse.Namespace, path: Path) -> Dict[str, Any]:
    """The server, the budget, the four legs; what ``--report-only`` needs, also written to ``legs.json``."""
    data = srsly.read_msgpack(path)
    delivered, urls = multiprocessing.Value("q", 0), multiprocessing.Queue()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(path, opts.latency, delivered, urls),
                                                         daemon=True)
    server.start()
    try:
        url = urls.get(timeout=600)
        estimate = make_annotator(opts.work / "estimate", opts.lang, opts.corpus, url, 1, None)
        per_request = int(getattr(estimate._llm()._task, "sentences_per_request", 1) or 1)
        budget = round(opts.budget_share * estimated_usd(estimate, data["words"]), 2)
        ledger = opts.work / "run" / "llm-usage.jsonl"
        n_requests = len(data["ids"]) // per_request
        legs: Dict[str, Dict[str, Any]] = {}
        for name, limit, kill in (("budget", budget, None), ("budget again", budget, None),
                                  ("killed", None, int((opts.kill_at - opts.budget_share) * n_requests)),
                                  ("resumed", None, None)):
            before = _billed_count(ledger)
            legs[name] = leg(opts, url, limit, delivered, kill)
            legs[name]["billed"] = _billed_count(ledger) - before
            legs[name]["ledger_end"] = len(_ledger_lines(ledger))
            print(name, legs[name], flush=True)
    finally:
        server.kill()
    done = {"legs": legs, "budget": budget, "delivered": delivered.value, "per_request": per_request,
            "measured": f"{time.strftime('%Y-%m-%d')} on this machine ({len(os.sched_getaffinity(0))} cores)"}
    srsly.write_json(opts.work / LEGS, done)
    return done


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
    opts = parser.parse_args(argv)
    if not 0 < opts.budget_share < opts.kill_at < 1:
        parser.error("--budget-share < --kill-at, both between 0 and 1: the kill must fall after the budget's leg")
    opts.corpus = opts.corpus or ROOT / "corpus" / opts.lang
    argv = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--report-only"]
    path = opts.work / "sentences.msgpack"
    if opts.report_only:
        done = srsly.read_json(opts.work / LEGS)
    else:
        for folder in ("run", "cache", "estimate"):
            shutil.rmtree(opts.work / folder, ignore_errors=True)
        for name in ("legs.err", LEGS):
            (opts.work / name).unlink(missing_ok=True)
        path = synthetic_sentences(opts.corpus, 2 * opts.requests, 0, opts.work)
        done = run_legs(opts, path)
    data = srsly.read_msgpack(path)
    counts = check(opts, done, dict(zip(data["ids"], data["tags"])))
    text = report(opts, done, counts, argv)
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
