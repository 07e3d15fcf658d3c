"""Validating the Min-K%++ membership test on memorisation planted in a tiny model.

The probe is only worth running on a real LLM if it detects memorisation where we know there is
some and stays quiet where we know there is none. Here both are known by construction:

1. the sentences of one language are de-duplicated and split at random (seeded) into members,
   non-members (the same number, from the same distribution) and a disjoint background corpus;
2. for each exposure level e, a fresh tiny GPT-2 (:mod:`.tinylm`, same initial weights for every
   level) is trained in one shuffled pass over the background repeated ``background_epochs`` times
   plus every member repeated e times (e = 0: the members are never seen, so members and
   non-members are exchangeable and the test must not flag);
3. Min-K%++ (:mod:`.minkpp`) scores members and non-members and :func:`.minkpp.membership_test`
   compares them. The mean token log-probability (the "loss" attack, Yeom et al. 2018) is reported
   beside it as a reference.

A level of e is not a calibration of any real model: exposure needed to memorise falls with model
size (Carlini et al. 2023, "Quantifying Memorization Across Neural Language Models"), and this
model is tiny. The harness shows that the pipeline (scores, direction, statistics) is right.
"""
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .minkpp import hf_token_stats, membership_test, text_scores
from .tinylm import TinyLMSettings, byte_tokenizer, tiny_gpt2, train_lm


@dataclass(frozen=True)
class PlantedSettings:
    """Sizes of the three sets, exposure levels, and the probe's and test's settings."""

    n_members: int = 150  # and as many non-members
    n_background: int = 300
    exposures: Tuple[int, ...] = (0, 1, 4, 16)
    background_epochs: int = 2
    min_chars: int = 20  # shorter sentences give too few positions for a 20% tail
    k: float = 0.2
    alpha: float = 0.05
    n_bootstrap: int = 1000
    model: TinyLMSettings = field(default_factory=TinyLMSettings)

    def __post_init__(self) -> None:
        if self.n_members < 2 or self.n_background < 1 or self.background_epochs < 1:
            raise ValueError(f"need n_members >= 2, n_background >= 1 and background_epochs >= 1, got {self}")
        if any(e < 0 for e in self.exposures):
            raise ValueError(f"exposures must be non-negative, got {self.exposures}")


def split_sentences(sentences: Sequence[str], n_members: int, n_background: int, seed: int = 0,
                    min_chars: int = 20) -> Dict[str, List[str]]:
    """Members, non-members (``n_members`` each) and background (``n_background``), disjoint and seeded.

    Sentences are stripped and de-duplicated first (a duplicate across sets would make a
    non-member a member), and those under ``min_chars`` characters are left out.
    """
    unique = list(dict.fromkeys(s.strip() for s in sentences if len(s.strip()) >= min_chars))
    needed = 2 * n_members + n_background
    if len(unique) < needed:
        raise ValueError(f"need {needed} distinct sentences of at least {min_chars} characters, got {len(unique)}")
    picked = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))[:needed]]
    return {"members": picked[:n_members], "nonmembers": picked[n_members:2 * n_members],
            "background": picked[2 * n_members:]}


def run_exposure(sets: Dict[str, List[str]], exposure: int, settings: PlantedSettings, seed: int = 0) -> Dict[str, Any]:
    """Train a fresh tiny model with the members at ``exposure`` and test Min-K%++ (and loss) on it.

    Returns exposure, the Min-K%++ :class:`.minkpp.MembershipTest` fields (auroc, ci_low, ci_high,
    p_value, flagged, verdict ...), ``loss_auroc`` / ``loss_p_value`` for the loss attack, and the
    training's steps, seconds and final loss.
    """
    tokenizer = byte_tokenizer()
    model = tiny_gpt2(settings.model, vocab_size=len(tokenizer), seed=seed)
    corpus = list(sets["background"]) * settings.background_epochs + list(sets["members"]) * exposure
    training = train_lm(model, tokenizer, corpus, settings.model, seed=seed)
    members, nonmembers = sets["members"], sets["nonmembers"]
    stats = hf_token_stats(model, tokenizer, list(members) + list(nonmembers))
    scores = text_scores(stats, settings.k)
    losses = [float(s.logprob.mean()) for s in stats]
    n = len(members)
    test = membership_test(scores[:n], scores[n:], alpha=settings.alpha, n_bootstrap=settings.n_bootstrap, seed=seed)
    loss = membership_test(losses[:n], losses[n:], alpha=settings.alpha, n_bootstrap=settings.n_bootstrap, seed=seed)
    return {"exposure": exposure, "seed": seed, **test.to_dict(),
            "loss_auroc": loss.auroc, "loss_ci_low": loss.ci_low, "loss_ci_high": loss.ci_high,
            "loss_p_value": loss.p_value, "train_steps": training["steps"], "train_seconds": training["seconds"],
            "train_sequences": training["sequences"], "final_loss": training["final_loss"]}


def planted_validation(sentences: Sequence[str], settings: PlantedSettings = PlantedSettings(),
                       seed: int = 0) -> List[Dict[str, Any]]:
    """:func:`run_exposure` for each of ``settings.exposures`` on one seeded split of ``sentences``."""
    sets = split_sentences(sentences, settings.n_members, settings.n_background, seed, settings.min_chars)
    return [run_exposure(sets, exposure, settings, seed) for exposure in settings.exposures]


def settings_dict(settings: PlantedSettings) -> Dict[str, Any]:
    """``settings`` as a JSON-serialisable dict (for reports)."""
    return asdict(settings)


def markdown_table(rows: Sequence[Dict[str, Any]]) -> str:
    """One line per exposure: Min-K%++ AUROC (mean and range over seeds, each seed's CI), flags, loss AUROC, time."""
    lines = ["| exposure | seeds | Min-K%++ AUROC mean [min, max] | per-seed AUROC (95% CI) | flagged | "
             "loss AUROC mean | train s (mean) |", "|---|---|---|---|---|---|---|"]
    for exposure in sorted({r["exposure"] for r in rows}):
        group = [r for r in rows if r["exposure"] == exposure]
        auroc = np.array([r["auroc"] for r in group])
        per_seed = "; ".join(f"{r['auroc']:.3f} ({r['ci_low']:.2f}-{r['ci_high']:.2f})" for r in group)
        lines.append(f"| {exposure} | {len(group)} | {auroc.mean():.3f} [{auroc.min():.3f}, {auroc.max():.3f}] | "
                     f"{per_seed} | {sum(r['flagged'] for r in group)}/{len(group)} | "
                     f"{np.mean([r['loss_auroc'] for r in group]):.3f} | "
                     f"{np.mean([r['train_seconds'] for r in group]):.1f} |")
    return "\n".join(lines)
