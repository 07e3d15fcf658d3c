"""Min-K%++: a log-probability membership score for texts a language model may have memorised.

Zhang, Sun, Qin, Li, Jia, Zhou and Yuan (2024), "Min-K%++: Improved Baseline for Detecting
Pre-Training Data from Large Language Models", arXiv:2404.02936. For a text x = x_1 ... x_n and each
position t that the model predicts,

    score_t = (log p(x_t | x_<t) - mu_t) / sigma_t,
    mu_t    = E_{z ~ p(.|x_<t)} [log p(z | x_<t)]                 = sum_z p(z) log p(z),
    sigma_t = sqrt(E_{z ~ p(.|x_<t)} [(log p(z | x_<t) - mu_t)^2]),

i.e. how far the actual next token stands above what the model's own next-token distribution
expects, in its standard deviations (the paper's eq. 3-4: a training text sits at a local maximum of
the likelihood, where this normalised log-probability is high). The text's score is the mean of the
k% lowest score_t (default k = 20%; the paper's code takes ``int(n * k)`` positions, we take at
least one). Higher means "more likely a member"; a score has no meaning alone, only its AUROC
between known members and known non-members (:func:`membership_test`).

The per-position quantities come from a local Hugging Face causal LM (:func:`hf_token_stats`, exact,
over the whole vocabulary) or from an OpenAI-compatible completions endpoint that echoes the prompt
with log-probabilities (:func:`completions_token_stats`; only the top-K are returned, so mu_t and
sigma_t are APPROXIMATED from the renormalised top-K distribution, see :func:`topk_moments`).
"""
import os
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from ..errors import LoopError

SIGMA_FLOOR = 1e-6  # a (nearly) one-hot next-token distribution: avoid dividing by zero


class EndpointError(LoopError, RuntimeError):
    """A completions endpoint that failed, could not be reached or answered without log-probabilities."""


@dataclass
class TokenStats:
    """Per predicted position of one text: the actual token's log-probability and the distribution's moments.

    ``tokens[i]`` is the token predicted at position i (its text where known); ``logprob[i]`` =
    log p(x_t | x_<t); ``mu[i]`` and ``sigma[i]`` the mean and standard deviation of log p(z | x_<t)
    under p(. | x_<t). ``exact`` is False when the moments were estimated from a top-K list.
    """

    tokens: List[str]
    logprob: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    exact: bool = True

    def __len__(self) -> int:
        return len(self.logprob)


def minkpp_token_scores(logprob: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """(log p(x_t) - mu_t) / sigma_t per position (sigma floored at :data:`SIGMA_FLOOR`)."""
    lp, m, s = (np.asarray(a, dtype=np.float64) for a in (logprob, mu, sigma))
    if not lp.shape == m.shape == s.shape or lp.ndim != 1:
        raise ValueError(f"logprob, mu and sigma must be 1-d of one length, got {lp.shape}, {m.shape}, {s.shape}")
    return (lp - m) / np.maximum(s, SIGMA_FLOOR)


def minkpp_score(logprob: ArrayLike, mu: ArrayLike, sigma: ArrayLike, k: float = 0.2) -> float:
    """Min-K%++ of one text: the mean of the ``k`` (a fraction, 0.2 = 20%) lowest token scores."""
    if not 0 < k <= 1:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    scores = np.sort(minkpp_token_scores(logprob, mu, sigma))
    if scores.size == 0:
        raise ValueError("no predicted positions: the text is too short for a Min-K%++ score")
    return float(scores[: max(1, int(scores.size * k))].mean())


def text_scores(stats: Sequence[TokenStats], k: float = 0.2) -> List[float]:
    """:func:`minkpp_score` of each text's :class:`TokenStats`."""
    return [minkpp_score(s.logprob, s.mu, s.sigma, k) for s in stats]


def distribution_moments(logprobs: np.ndarray, weights: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """mu and sigma of the (..., V) ``logprobs`` under ``weights`` (default: their own probabilities)."""
    probs = np.exp(logprobs) if weights is None else weights
    mu = (probs * logprobs).sum(-1)
    var = (probs * (logprobs - mu[..., None]) ** 2).sum(-1)
    return mu, np.sqrt(np.clip(var, 0, None))


# --- a local Hugging Face causal LM --------------------------------------------------------------


def logits_token_stats(logits: Any, targets: Any) -> Dict[str, np.ndarray]:
    """Exact per-position quantities from (T, V) next-token logits and the (T,) ids actually next."""
    import torch

    logprobs = torch.log_softmax(logits.detach().double(), dim=-1).cpu().numpy()
    mu, sigma = distribution_moments(logprobs)
    actual = np.take_along_axis(logprobs, np.asarray(targets, dtype=np.int64)[:, None], axis=-1)[:, 0]
    return {"logprob": actual, "mu": mu, "sigma": sigma}


def hf_token_stats(model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 8,
                   max_length: Optional[int] = None, prepend_bos: bool = True) -> List[TokenStats]:
    """:class:`TokenStats` of each text under a local causal LM (``AutoModelForCausalLM`` + its tokenizer).

    Texts are tokenised with ``tokenizer(text, add_special_tokens=False)``; with ``prepend_bos`` and a
    ``bos_token_id``, the BOS token is put first so the first real token is predicted too. Batches are
    right-padded here (no pad token needed) and run without gradients; ``max_length`` (default: the
    model's ``n_positions``/``max_position_embeddings``) truncates.
    """
    import torch

    config = model.config
    limit = max_length or getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    bos = tokenizer.bos_token_id if prepend_bos else None
    encoded = [([bos] if bos is not None else []) + list(tokenizer(t, add_special_tokens=False)["input_ids"])
               for t in texts]
    encoded = [ids[:limit] for ids in encoded]
    device = next(model.parameters()).device
    out: List[TokenStats] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(encoded), batch_size):
                out.extend(_batch_stats(model, tokenizer, encoded[start:start + batch_size], device))
    finally:
        model.train(was_training)
    return out


def _batch_stats(model: Any, tokenizer: Any, batch: List[List[int]], device: Any) -> List[TokenStats]:
    import torch

    width = max(len(ids) for ids in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(batch):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.cpu()
    stats = []
    for i, row in enumerate(batch):
        n = len(row)
        got = logits_token_stats(logits[i, : n - 1], ids[i, 1:n])
        stats.append(TokenStats(tokens=list(tokenizer.convert_ids_to_tokens(row[1:])), logprob=got["logprob"],
                                mu=got["mu"], sigma=got["sigma"]))
    return stats


# --- an OpenAI-compatible completions endpoint (vLLM-style echo + logprobs) -----------------------


def topk_moments(top_logprobs: Mapping[str, float]) -> Dict[str, float]:
    """mu and sigma estimated from a top-K list of log-probabilities (an APPROXIMATION).

    The K listed tokens are renormalised into a distribution q(z) = p(z) / sum_top p and
    mu = sum_z q(z) log p(z), sigma^2 = sum_z q(z) (log p(z) - mu)^2. Renormalising shifts every
    log q by the same constant, which cancels in (log p(x_t) - mu_t) / sigma_t, so the score does
    not depend on whether p or q is used. The approximation is the truncation: the tail beyond the
    top K is ignored, which raises mu (the tail's log-probabilities are the lowest) and lowers sigma,
    most where the distribution is flat (e.g. after a memorised prefix it is peaked and the estimate
    is close). K of 20 or more is advisable; with one token sigma is 0 and is floored.
    """
    if not top_logprobs:
        raise ValueError("empty top-K list")
    lp = np.array([float(v) for v in top_logprobs.values()], dtype=np.float64)
    lp = lp[np.isfinite(lp)]
    if lp.size == 0:
        raise ValueError(f"no finite log-probability in the top-K list {dict(top_logprobs)}")
    mu, sigma = distribution_moments(lp, weights=np.exp(lp - np.logaddexp.reduce(lp)))
    return {"mu": float(mu), "sigma": float(sigma)}


def parse_completion_logprobs(response: Mapping[str, Any], n_prompt_tokens: Optional[int] = None) -> TokenStats:
    """:class:`TokenStats` (approximate) from a completions response with ``echo`` and ``logprobs``.

    Reads ``choices[0].logprobs`` ("tokens", "token_logprobs", "top_logprobs"); only the first
    ``n_prompt_tokens`` are the prompt's (default: from ``usage``, else all). Positions without a
    log-probability (the first token, which nothing predicts) are left out.
    """
    try:
        logprobs = response["choices"][0]["logprobs"]
        tokens, actual, top = logprobs["tokens"], logprobs["token_logprobs"], logprobs["top_logprobs"]
    except (KeyError, IndexError, TypeError) as err:
        raise ValueError("response has no choices[0].logprobs with tokens, token_logprobs and top_logprobs "
                         f"({err!r})") from None
    if n_prompt_tokens is None:
        usage = response.get("usage") or {}
        n_prompt_tokens = usage.get("prompt_tokens") or len(tokens) - int(usage.get("completion_tokens") or 0)
    keep = [(tok, lp, t) for tok, lp, t in list(zip(tokens, actual, top))[:n_prompt_tokens]
            if lp is not None and t]
    moments = [topk_moments(t) for _, _, t in keep]
    return TokenStats(tokens=[tok for tok, _, _ in keep], logprob=np.array([lp for _, lp, _ in keep], dtype=np.float64),
                      mu=np.array([m["mu"] for m in moments]), sigma=np.array([m["sigma"] for m in moments]),
                      exact=False)


def completions_token_stats(texts: Sequence[str], base_url: str, model: str, *, top_k: int = 20,
                            api_key_env: Optional[str] = None, timeout: float = 60.0, max_tokens: int = 1,
                            client: Optional[Any] = None) -> List[TokenStats]:
    """Approximate :class:`TokenStats` of each text from ``POST {base_url}/completions`` (vLLM-style).

    Sends ``{"model", "prompt": text, "max_tokens", "echo": true, "logprobs": top_k, "temperature": 0}``
    (``max_tokens`` = 1 because not every server accepts 0; the generated token is dropped). The API
    key, if any, is read from the environment variable named ``api_key_env``. Raises
    :class:`EndpointError` naming the endpoint on a transport error, an HTTP error status or an answer
    without log-probabilities.
    """
    import httpx

    url = base_url.rstrip("/") + "/completions"
    headers = {}
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise EndpointError(f"{url}: environment variable {api_key_env} (the API key) is not set")
        headers["Authorization"] = f"Bearer {key}"
    owned = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        return [_one_completion(http, url, headers, model, text, top_k, max_tokens, timeout) for text in texts]
    finally:
        if owned:
            http.close()


def _one_completion(http: Any, url: str, headers: Dict[str, str], model: str, text: str, top_k: int,
                    max_tokens: int, timeout: float) -> TokenStats:
    import httpx

    payload = {"model": model, "prompt": text, "max_tokens": max_tokens, "echo": True, "logprobs": top_k,
               "temperature": 0}
    try:
        response = http.post(url, json=payload, headers=headers, timeout=timeout)
    except httpx.HTTPError as err:
        raise EndpointError(f"{url}: request failed ({type(err).__name__}: {err})") from err
    if response.status_code >= 400:
        raise EndpointError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
    try:
        return parse_completion_logprobs(response.json())
    except ValueError as err:
        raise EndpointError(f"{url}: {err}") from err


# --- the membership test ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipTest:
    """AUROC of members against non-members with a bootstrap CI, a one-sided Mann-Whitney U p-value and a verdict."""

    auroc: float
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    flagged: bool  # p_value < alpha: members score higher than non-members
    n_members: int
    n_nonmembers: int

    @property
    def verdict(self) -> str:
        """"memorised" when flagged, else "not detected"."""
        return "memorised" if self.flagged else "not detected"

    def to_dict(self) -> Dict[str, Union[float, int, bool, str]]:
        """The fields and the verdict, JSON-serialisable."""
        return {**asdict(self), "verdict": self.verdict}


def membership_test(member_scores: Sequence[float], nonmember_scores: Sequence[float], *, alpha: float = 0.05,
                    n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0) -> MembershipTest:
    """Do members score higher than non-members? AUROC, its percentile bootstrap CI, one-sided MWU p-value.

    The AUROC (members as positives, ``sklearn.metrics.roc_auc_score``) is 0.5 when the scores do not
    tell the sets apart. The CI resamples members and non-members separately (``n_bootstrap`` times,
    seeded). The p-value is scipy's Mann-Whitney U test with ``alternative="greater"``, whose U
    statistic is AUROC x n_members x n_nonmembers; the test flags at p < ``alpha``.
    """
    from scipy.stats import mannwhitneyu
    from sklearn.metrics import roc_auc_score

    members, others = np.asarray(member_scores, dtype=float), np.asarray(nonmember_scores, dtype=float)
    if members.size < 2 or others.size < 2:
        raise ValueError(f"need at least 2 members and 2 non-members, got {members.size} and {others.size}")
    if n_bootstrap < 1 or not 0 < level < 1:
        raise ValueError(f"need n_bootstrap >= 1 and 0 < level < 1, got {n_bootstrap} and {level}")
    if not (np.isfinite(members).all() and np.isfinite(others).all()):
        raise ValueError("scores must be finite")
    labels = np.r_[np.ones(members.size), np.zeros(others.size)]
    auroc = float(roc_auc_score(labels, np.r_[members, others]))
    rng = np.random.default_rng(seed)
    boot = [roc_auc_score(labels, np.r_[rng.choice(members, members.size), rng.choice(others, others.size)])
            for _ in range(n_bootstrap)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    p_value = float(mannwhitneyu(members, others, alternative="greater").pvalue)
    return MembershipTest(auroc=auroc, ci_low=float(low), ci_high=float(high), p_value=p_value, alpha=alpha,
                          flagged=bool(p_value < alpha), n_members=int(members.size), n_nonmembers=int(others.size))
