"""The ``leakage`` command: a run that trained on a test sentence fails, listing it; a clean run passes."""
import json

import pytest
import srsly
from typer.testing import CliRunner

from spacy_llm_loop.cli import app
from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import doc_tags, sentence_id
from spacy_llm_loop.data.prodigy import doc_to_task


def fake_run(root, corpus, name, annotated):
    run = root / name
    (run / "round-01").mkdir(parents=True)
    train = load_docs(corpus / "train.spacy")
    srsly.write_jsonl(run / "seed.jsonl", [doc_to_task(doc) for doc in train[:10]])
    srsly.write_jsonl(run / "round-01" / "annotations.jsonl",
                      [{"id": sentence_id(doc), "tags": doc_tags(doc)} for doc in annotated])
    srsly.write_json(run / "loop.json", {"run": name, "lang": "tsn", "annotator": "gold", "seed": 0,
                                         "strategy": "entropy", "rounds": []})


def test_leakage_command_fails_on_a_test_sentence_in_training(small_corpus, tmp_path) -> None:
    runs = tmp_path / "runs"
    train, test = load_docs(small_corpus / "train.spacy"), load_docs(small_corpus / "test.spacy")
    fake_run(runs, small_corpus, "tsn-clean", train[10:20])
    args = ["leakage", "--runs-dir", str(runs), "--corpus-root", str(small_corpus.parent), "--output",
            str(tmp_path / "leakage.json"), "--markdown", str(tmp_path / "leakage.md")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "leakage.json").read_text())
    assert report["ok"] and "tsn" in report["datasets"] and report["runs"]["tsn-clean"]["errors"] == []
    fake_run(runs, small_corpus, "tsn-leaky", train[10:15] + test[:2])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "data leakage: 2 test sentences" in result.output
    report = json.loads((tmp_path / "leakage.json").read_text())
    assert {e["id"] for e in report["errors"]} == {sentence_id(doc) for doc in test[:2]}
    assert all(e["run"] == "tsn-leaky" and e["reason"] == "test_split" for e in report["errors"])
    assert "| tsn-leaky | LEAK | 2 |" in (tmp_path / "leakage.md").read_text()


def test_leakage_command_probes_a_memorising_endpoint(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.leakage.probes.sample import load_sentences
    from spacy_llm_loop.simulate.memorising import MemorisingLLM, MemorisingServer

    runs = tmp_path / "runs"
    fake_run(runs, small_corpus, "tsn-clean", load_docs(small_corpus / "train.spacy")[10:20])
    sentences = load_sentences(small_corpus / "test.spacy") + load_sentences(small_corpus / "train.spacy")
    llm = MemorisingLLM(sentences, 1.0, seed=1)  # a SIMULATED model that memorised every sentence
    with MemorisingServer(llm) as server:
        args = ["leakage", "--runs-dir", str(runs), "--corpus-root", str(small_corpus.parent), "--output",
                str(tmp_path / "leakage.json"), "--markdown", str(tmp_path / "leakage.md"), "--probe-annotator",
                "openai-compatible", "--llm-endpoint", server.url, "--probe-n", "20", "--cache-path",
                str(tmp_path / "cache.sqlite"), "--probes", "text_quiz,label_quiz,completion"]
        assert CliRunner().invoke(app, args + ["--annotator-eval-dir", str(tmp_path / "none")]).exit_code == 1
        # annotator-eval's answers of the same model: the label quiz asks about those sentences
        tagged = load_sentences(small_corpus / "train.spacy")[:30]
        right = {i: [[[w, tag] for w, tag in zip(t, g)]] * 2 for i, (t, g) in enumerate(tagged)}
        wrong = {i: [None, [[w, "I-DATE"] for w in t]] for i, (t, g) in enumerate(tagged)}
        recording = {f"record_{i}": {"tokens": t, "true": g, "pred": right[i] if i % 3 else wrong[i]}
                     for i, (t, g) in enumerate(tagged)}
        (tmp_path / "ae" / "openai-compatible").mkdir(parents=True)
        (tmp_path / "ae" / "openai-compatible" / "tsn.json").write_text(json.dumps(recording))
        result = CliRunner().invoke(app, args + ["--annotator-eval-dir", str(tmp_path / "ae")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "leakage.json").read_text())
    memorisation = report["memorisation"]
    assert set(memorisation["results"]["tsn"]) == {"text_quiz", "label_quiz", "completion"}
    skill = memorisation["results"]["tsn"]["label_quiz"]["skill"]
    assert skill["tagging_accuracy"] == pytest.approx(40 / 60)  # 20 of 30 sentences right in both runs
    assert memorisation["results"]["tsn"]["label_quiz"]["n"] <= 30
    assert memorisation["verdict"]["overall"] == "memorisation detected"
    assert (tmp_path / "leakage-usage.jsonl").exists()
    assert "## Memorisation probes" in (tmp_path / "leakage.md").read_text()


class _Logprobs:
    """A SIMULATED completions endpoint with log-probabilities: ``known`` texts get likely tokens (memorised)."""

    def __init__(self, known):
        self.known = set(known)

    def handler(self):
        from http.server import BaseHTTPRequestHandler

        known = self.known

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                words = body["prompt"].split()
                lp = -0.1 if body["prompt"] in known else -3.0
                top = [{w: lp, "x": -1.0, "y": -2.0} for w in words]
                payload = {"choices": [{"logprobs": {"tokens": words + ["."], "token_logprobs": [None] +
                                                     [lp] * (len(words) - 1) + [-1.0],
                                                     "top_logprobs": [None] + top[1:] + [{".": -1.0}]}}],
                           "usage": {"prompt_tokens": len(words), "completion_tokens": 1}}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def test_leakage_command_runs_min_k_plus_plus_against_a_completions_endpoint(small_corpus, tmp_path) -> None:
    import threading
    from http.server import ThreadingHTTPServer

    from spacy_llm_loop.leakage.probes.sample import load_sentences

    runs = tmp_path / "runs"
    fake_run(runs, small_corpus, "tsn-clean", load_docs(small_corpus / "train.spacy")[10:20])
    members = [" ".join(t) for split in ("train", "test") for t, _ in load_sentences(small_corpus / f"{split}.spacy")]
    others = tmp_path / "nonmembers.txt"
    others.write_text("\n".join(" ".join(reversed(m.split())) + " ." for m in members[:40]), encoding="utf-8")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Logprobs(members).handler())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        args = ["leakage", "--runs-dir", str(runs), "--corpus-root", str(small_corpus.parent), "--output",
                str(tmp_path / "leakage.json"), "--markdown", str(tmp_path / "leakage.md"), "--logprob-endpoint",
                f"http://127.0.0.1:{httpd.server_address[1]}/v1", "--logprob-model", "open-7b", "--logprob-n", "30"]
        assert CliRunner().invoke(app, args).exit_code == 1  # non-members are required
        result = CliRunner().invoke(app, args + ["--nonmembers", str(others)])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.exit_code == 0, result.output
    probe = json.loads((tmp_path / "leakage.json").read_text())["logprob"]["tsn"]
    assert probe["test"]["auroc"] == 1.0 and probe["verdict"] == "memorised" and probe["n"] == 30
    assert "## Min-K%++" in (tmp_path / "leakage.md").read_text()
