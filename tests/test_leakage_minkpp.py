"""Min-K%++: the formula by hand, the completions endpoint path, and planted memorisation in a tiny model."""
import json
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Dict, List

import numpy as np
import pytest

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.leakage.minkpp import (
    EndpointError,
    completions_token_stats,
    hf_token_stats,
    logits_token_stats,
    membership_test,
    minkpp_score,
    minkpp_token_scores,
    parse_completion_logprobs,
    topk_moments,
)
from spacy_llm_loop.leakage.planted import PlantedSettings, markdown_table, planted_validation
from spacy_llm_loop.leakage.tinylm import TinyLMSettings, byte_tokenizer, tiny_gpt2

LN2 = math.log(2)
# Next-token distributions over a 3-token vocabulary and the token that actually came next.
# (1/2, 1/4, 1/4): mu = -1.5 ln2, sigma = 0.5 ln2, so token 0 scores +1 and token 1 scores -1;
# uniform: log p = mu for every token and sigma = 0 (floored), so the score is 0.
HALF, UNIFORM = [0.5, 0.25, 0.25], [1 / 3] * 3
DISTRIBUTIONS = [HALF, HALF, UNIFORM, HALF, HALF]
ACTUAL = [0, 1, 2, 0, 1]


def test_moments_and_token_scores_by_hand() -> None:
    torch = pytest.importorskip("torch")
    stats = logits_token_stats(torch.log(torch.tensor(DISTRIBUTIONS)), torch.tensor(ACTUAL))
    np.testing.assert_allclose(stats["mu"], [-1.5 * LN2] * 2 + [-math.log(3)] + [-1.5 * LN2] * 2)
    np.testing.assert_allclose(stats["sigma"], [0.5 * LN2] * 2 + [0.0] + [0.5 * LN2] * 2, atol=1e-7)
    np.testing.assert_allclose(stats["logprob"], [-LN2, -2 * LN2, -math.log(3), -LN2, -2 * LN2])
    np.testing.assert_allclose(minkpp_token_scores(**stats), [1, -1, 0, 1, -1], atol=1e-6)


@pytest.mark.parametrize("k,expected", [(0.2, -1.0), (0.4, -1.0), (0.6, -2 / 3), (1.0, 0.0), (0.01, -1.0)])
def test_minkpp_score_is_the_mean_of_the_lowest_k_percent(k: float, expected: float) -> None:
    lp = [-LN2, -2 * LN2, -math.log(3), -LN2, -2 * LN2]
    mu = [-1.5 * LN2] * 2 + [-math.log(3)] + [-1.5 * LN2] * 2
    sigma = [0.5 * LN2] * 2 + [0.0] + [0.5 * LN2] * 2
    assert minkpp_score(lp, mu, sigma, k) == pytest.approx(expected, abs=1e-6)


def test_minkpp_score_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="k must be"):
        minkpp_score([0.0], [0.0], [1.0], k=0)
    with pytest.raises(ValueError, match="no predicted positions"):
        minkpp_score([], [], [])
    with pytest.raises(ValueError, match="one length"):
        minkpp_score([0.0, 1.0], [0.0], [1.0])


def test_topk_moments_renormalise_the_listed_tokens() -> None:
    full = topk_moments({"a": math.log(0.5), "b": math.log(0.25), "c": math.log(0.25)})
    assert full["mu"] == pytest.approx(-1.5 * LN2) and full["sigma"] == pytest.approx(0.5 * LN2)
    # top-2 of the same distribution: q = (2/3, 1/3); mu = -4/3 ln2, sigma^2 = 2/9 ln2^2
    top2 = topk_moments({"a": math.log(0.5), "b": math.log(0.25)})
    assert top2["mu"] == pytest.approx(-4 / 3 * LN2) and top2["sigma"] == pytest.approx(math.sqrt(2) / 3 * LN2)


def test_hf_token_stats_do_not_depend_on_batching() -> None:
    pytest.importorskip("torch")
    tokenizer, model = byte_tokenizer(), tiny_gpt2(TinyLMSettings(n_embd=32, n_positions=64), seed=0)
    texts = ["Dumela rra", "Ke a leboga thata, mma.", "Gó"]
    alone = [hf_token_stats(model, tokenizer, [t])[0] for t in texts]
    batched = hf_token_stats(model, tokenizer, texts, batch_size=3)
    assert tokenizer("Gó", add_special_tokens=False)["input_ids"] == list("Gó".encode("utf-8"))
    for one, many, text in zip(alone, batched, texts):
        assert len(one) == len(text.encode("utf-8"))  # BOS predicts the first byte
        for name in ("logprob", "mu", "sigma"):
            np.testing.assert_allclose(getattr(one, name), getattr(many, name), rtol=1e-4, atol=1e-5)
        assert (many.sigma > 0).all() and (many.mu < 0).all()


# --- the completions endpoint ----------------------------------------------------------------------

TOP = [None, {"umela": -2.0, "ay": -0.5, "o": -1.5}, {" r": -0.5, " m": -1.0}, {"ra": -0.1, "ma": -3.0}, {"!": -1.0}]
RESPONSE = {"id": "cmpl-1", "object": "text_completion", "model": "tiny",
            "choices": [{"index": 0, "text": "Dumela rra!", "finish_reason": "length",
                         "logprobs": {"tokens": ["D", "umela", " r", "ra", "!"],
                                      "token_logprobs": [None, -2.0, -0.5, -0.1, -1.0],
                                      "top_logprobs": TOP, "text_offset": [0, 1, 6, 8, 10]}}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}}


class _Handler(BaseHTTPRequestHandler):
    requests: List[Dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        status, payload = (200, RESPONSE) if self.path == "/v1/completions" else (500, {"error": "boom"})
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server():
    _Handler.requests = []
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.requests
    httpd.shutdown()
    httpd.server_close()


def test_completions_token_stats_parse_vllm_logprobs(server, monkeypatch) -> None:
    url, requests = server
    monkeypatch.setenv("TEST_MINKPP_KEY", "sk-test")
    [stats] = completions_token_stats(["Dumela rra"], f"{url}/v1", "tiny", top_k=3, api_key_env="TEST_MINKPP_KEY")
    assert requests[0]["path"] == "/v1/completions" and requests[0]["auth"] == "Bearer sk-test"
    assert requests[0]["body"] == {"model": "tiny", "prompt": "Dumela rra", "max_tokens": 1, "echo": True,
                                   "logprobs": 3, "temperature": 0}
    assert stats.tokens == ["umela", " r", "ra"] and not stats.exact  # no first token, no generated token
    np.testing.assert_allclose(stats.logprob, [-2.0, -0.5, -0.1])
    for i, top in enumerate(TOP[1:4]):
        assert stats.mu[i] == pytest.approx(topk_moments(top)["mu"])
        assert stats.sigma[i] == pytest.approx(topk_moments(top)["sigma"])
    assert stats.logprob[1] > stats.mu[1]  # " r" is the most likely of its list


def test_parse_completion_logprobs_without_usage_keeps_all_tokens() -> None:
    response = {"choices": RESPONSE["choices"]}
    assert parse_completion_logprobs(response).tokens == ["umela", " r", "ra", "!"]
    with pytest.raises(ValueError, match="logprobs"):
        parse_completion_logprobs({"choices": [{"text": "x"}]})


def test_completions_errors_name_the_endpoint(server, monkeypatch) -> None:
    url, _ = server
    with pytest.raises(EndpointError, match=f"{url}/broken/completions: HTTP 500"):
        completions_token_stats(["Dumela"], f"{url}/broken", "tiny")
    monkeypatch.delenv("TEST_MINKPP_MISSING", raising=False)
    with pytest.raises(EndpointError, match="TEST_MINKPP_MISSING"):
        completions_token_stats(["Dumela"], f"{url}/v1", "tiny", api_key_env="TEST_MINKPP_MISSING")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    with pytest.raises(EndpointError, match=f"{closed}/completions: request failed"):
        completions_token_stats(["Dumela"], closed, "tiny", timeout=5)


# --- the membership test and planted memorisation ---------------------------------------------------


def test_membership_test_on_separated_and_exchangeable_scores() -> None:
    separated = membership_test([2.0, 3.0, 4.0, 5.0], [0.0, 0.5, 1.0, 1.5], n_bootstrap=200)
    assert separated.auroc == 1.0 and separated.flagged and separated.verdict == "memorised"
    first, second = np.random.default_rng(0).normal(size=(2, 100))
    same = membership_test(first, second, n_bootstrap=200, seed=1)
    assert same.ci_low < 0.5 < same.ci_high and not same.flagged and same.verdict == "not detected"
    assert same == membership_test(first, second, n_bootstrap=200, seed=1)  # seeded bootstrap
    assert json.loads(json.dumps(same.to_dict()))["n_members"] == 100


@pytest.mark.slow
def test_planted_memorisation_is_flagged_only_when_planted(small_corpus) -> None:
    pytest.importorskip("torch").set_num_threads(1)
    sentences = [doc.text for split in ("train", "dev", "test") for doc in load_docs(small_corpus / f"{split}.spacy")]
    settings = PlantedSettings(n_members=40, n_background=80, exposures=(0, 32), n_bootstrap=300,
                               model=TinyLMSettings(n_positions=128))
    rows = planted_validation(sentences, settings, seed=0)
    json.dumps(rows)
    unseen, planted = rows
    assert unseen["exposure"] == 0 and (unseen["ci_low"] <= 0.5 <= unseen["ci_high"] or unseen["p_value"] >= 0.05)
    assert not unseen["flagged"]
    assert planted["exposure"] == 32 and planted["auroc"] > 0.8 and planted["flagged"]
    assert planted["train_steps"] > unseen["train_steps"]
    assert "| 32 | 1 |" in markdown_table(rows)
