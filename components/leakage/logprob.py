"""The log-probability probe for open-weight models (``leakage --logprob-endpoint``): Min-K%++ of dataset
sentences against a non-member set of the same language, through an OpenAI-compatible completions endpoint
that returns log-probabilities (e.g. vLLM's).

Members are a seeded sample of the language's MasakhaNER sentences (train and test); non-members are
sentences the caller vouches were never in the model's training data (e.g. news written after its
cut-off), one per line in a UTF-8 file. The two sets should match in length and register: their mean
lengths are reported, and a gap of more than :data:`LENGTH_GAP` is flagged, since length alone moves the
score. The endpoint gives only the top-K log-probabilities per position, so the score's normalisation is
approximate (see :func:`.minkpp.completions_token_stats`).
"""
import random
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import InputError
from .minkpp import completions_token_stats, membership_test, text_scores
from .probes.sample import load_sentences

LENGTH_GAP = 0.2  # relative difference of mean characters between members and non-members worth a warning


def read_nonmembers(path: Path) -> List[str]:
    """Non-member sentences, one per non-empty line; an error naming the file when there are none."""
    try:
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", path) from None
    if not lines:
        raise InputError("no non-member sentences (one per line expected)", path)
    return lines


def logprob_probe(corpus: Path, lang: str, base_url: str, model: str, nonmembers: Path, *, n: int = 200,
                  seed: int = 0, top_k: int = 20, k: float = 0.2, api_key_env: Optional[str] = None,
                  alpha: float = 0.05) -> Dict[str, Any]:
    """Min-K%++ of ``n`` members against ``n`` non-members, with the membership test."""
    texts = [" ".join(tokens) for split in ("train", "test") for tokens, _ in load_sentences(corpus / f"{split}.spacy")]
    rng = random.Random(seed)
    members = rng.sample(texts, min(n, len(texts)))
    others = read_nonmembers(nonmembers)
    others = rng.sample(others, min(n, len(others)))
    scores = {name: text_scores(completions_token_stats(group, base_url, model, top_k=top_k,
                                                        api_key_env=api_key_env), k)
              for name, group in (("members", members), ("nonmembers", others))}
    test = membership_test(scores["members"], scores["nonmembers"], alpha=alpha, seed=seed)
    lengths = {name: sum(map(len, group)) / len(group) for name, group in (("members", members),
                                                                           ("nonmembers", others))}
    gap = abs(lengths["members"] - lengths["nonmembers"]) / max(lengths["members"], 1.0)
    notes = [f"members and non-members differ in mean length by {gap:.0%}: length alone moves the score, so "
             "match the sets before reading the AUROC"] if gap > LENGTH_GAP else []
    endpoint = base_url.split("?")[0]  # a key in a query string is never written
    return {"lang": lang, "endpoint": endpoint, "model": model, "nonmembers": str(nonmembers), "n": len(members),
            "n_nonmembers": len(others), "k": k, "top_k": top_k, "mean_chars": lengths, "test": test.to_dict(),
            "verdict": test.verdict, "notes": notes}
