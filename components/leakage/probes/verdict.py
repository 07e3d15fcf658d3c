"""A memorisation verdict per language and overall, from the probes' pre-stated tests.

The rule (fixed before looking at the data):

1. Per language, the probes in ``probes`` that were run (default: the text quiz, the label quiz and
   the completion probe; source identification has no chance baseline, see :mod:`.source`) give
   one-sided p-values; the language's p-value is their Bonferroni minimum, ``min(1, k * min p)``.
2. Across languages, those p-values are Holm-corrected
   (``statsmodels.stats.multitest.multipletests(method="holm")``), which keeps the chance of
   flagging any language at all, when none memorised anything, at most ``alpha``.
3. A language is ``memorisation detected`` when its Holm-adjusted p-value is at most ``alpha``;
   else ``no evidence`` when every counted probe's memorised-share interval ends at or below
   ``max_share`` (a share that large is ruled out); else ``inconclusive`` (too few sentences to
   rule it out).
4. Overall: ``memorisation detected`` if any language is; ``no evidence`` if all languages are;
   else ``inconclusive``.
"""
from typing import Any, Dict, Mapping, Sequence

from statsmodels.stats.multitest import multipletests

DEFAULT_PROBES = ("text_quiz", "label_quiz", "completion")
DETECTED, NO_EVIDENCE, INCONCLUSIVE = "memorisation detected", "no evidence", "inconclusive"
RULE = ("per language: Bonferroni minimum of the counted probes' one-sided p-values; Holm across languages; "
        "detected if adjusted p <= alpha, else no evidence if every memorised-share interval ends at or below "
        "max_share, else inconclusive; overall: detected if any language is, no evidence if all are")


def language_p_value(results: Mapping[str, Mapping[str, Any]], probes: Sequence[str] = DEFAULT_PROBES) -> float:
    """``min(1, k * min p)`` over the ``k`` counted probes present in ``results`` (probe name -> result)."""
    p_values = [float(results[name]["test"]["p_value"]) for name in probes if name in results]
    if not p_values:
        raise ValueError(f"no result for any of the probes {list(probes)}; got {sorted(results)}")
    return min(1.0, len(p_values) * min(p_values))


def verdict(results: Mapping[str, Mapping[str, Mapping[str, Any]]], *, alpha: float = 0.05,
            max_share: float = 0.1, probes: Sequence[str] = DEFAULT_PROBES) -> Dict[str, Any]:
    """The verdict for ``results`` (language -> probe name -> probe result), by the rule in the module docstring."""
    if not results:
        raise ValueError("no languages to give a verdict on")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    langs = sorted(results)
    raw = [language_p_value(results[lang], probes) for lang in langs]
    # Holm leaves one p-value as it is; multipletests also runs gc.collect() on every call (slow in loops).
    adjusted = raw if len(raw) == 1 else list(multipletests(raw, alpha=alpha, method="holm")[1])
    per_language = {}
    for lang, p, p_holm in zip(langs, raw, adjusted):
        counted = {name: results[lang][name] for name in probes if name in results[lang]}
        highs = {name: r["memorised_share"]["high"] for name, r in counted.items()}
        if p_holm <= alpha:
            decision = DETECTED
        elif all(h <= max_share for h in highs.values()):
            decision = NO_EVIDENCE
        else:
            decision = INCONCLUSIVE
        per_language[lang] = {"verdict": decision, "p_value": p, "p_holm": float(p_holm),
                              "probes": {name: r["test"]["p_value"] for name, r in counted.items()},
                              "memorised_share_high": highs}
    decisions = [v["verdict"] for v in per_language.values()]
    overall = (DETECTED if DETECTED in decisions else
               NO_EVIDENCE if all(d == NO_EVIDENCE for d in decisions) else INCONCLUSIVE)
    return {"overall": overall, "languages": per_language, "alpha": alpha, "max_share": max_share,
            "probes": list(probes), "rule": RULE,
            "min_p_holm": float(min(adjusted))}
