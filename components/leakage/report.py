"""The whole ``leakage`` report: the overlap check, then the memorisation probes and Min-K%++ when asked for.

The command only gathers its options into :class:`ProbeRequest` and :class:`LogprobRequest`; assembling the
probes (the probe model, the annotator-eval answers the label quiz reuses, the languages) happens here, so a
script gets the same report as the command. The probe model's client and Min-K%++ are imported only when they
run: they bring spacy-llm, which the overlap check does not need.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..fileio import write_json, write_text
from .check import leakage_markdown, leakage_overlap
from .overlap import OverlapSettings
from .probes.run import PROBES, annotator_eval_skill, probe_languages


@dataclass(frozen=True)
class ProbeRequest:
    """Memorisation probes of one annotator's LLM (an annotator config or packaged name)."""

    annotator: str
    endpoint: Optional[str] = None  # None: the annotator config's own
    model_name: Optional[str] = None
    probes: Sequence[str] = PROBES
    n: int = 100  # sentences per probe and language (a seeded sample)
    seed: int = 0
    cache_path: str = "cache/llm.sqlite"
    ledger_path: Optional[str] = None
    annotator_eval_dir: Optional[Path] = None  # the label quiz reuses annotator-eval's sentences from here


@dataclass(frozen=True)
class LogprobRequest:
    """Min-K%++ through an OpenAI-compatible completions endpoint that returns log-probabilities."""

    endpoint: str
    model: str
    nonmembers: Optional[Path]  # sentences the model never saw; required (a ValueError without)
    n: int = 200
    key_env: Optional[str] = None  # the environment variable holding the API key


def leakage_report(runs_dir: Path, corpus_root: Path, langs: Optional[Sequence[str]] = None,
                   settings: OverlapSettings = OverlapSettings(), probes: Optional[ProbeRequest] = None,
                   logprob: Optional[LogprobRequest] = None) -> Dict[str, Any]:
    """:func:`.check.leakage_overlap`, with ``memorisation`` and ``logprob`` added when requested, each over
    ``langs`` (default: every language the overlap check saw)."""
    report = leakage_overlap(runs_dir, corpus_root, langs or None, settings)
    if probes is not None:
        report["memorisation"] = memorisation(corpus_root, list(langs or sorted(report["datasets"])), probes)
    if logprob is not None:
        from .logprob import logprob_probe

        if logprob.nonmembers is None:
            raise ValueError("--logprob-endpoint needs --nonmembers (sentences the model never saw)")
        report["logprob"] = {lang: logprob_probe(corpus_root / lang, lang, logprob.endpoint, logprob.model,
                                                 logprob.nonmembers, n=logprob.n, api_key_env=logprob.key_env)
                             for lang in (langs or sorted(report["datasets"]))}
    return report


def memorisation(corpus_root: Path, langs: List[str], request: ProbeRequest) -> Dict[str, Any]:
    """The probes of every language in ``langs`` through the annotator's chat model, and their verdict."""
    from .probes.client import complete_with, probe_model

    model = probe_model(request.annotator, endpoint=request.endpoint, model_name=request.model_name,
                        cache_path=request.cache_path, ledger_path=request.ledger_path)
    skills: Dict[str, Dict[str, Any]] = {}
    if request.annotator_eval_dir is not None:
        for lang in langs:
            recording = request.annotator_eval_dir / Path(request.annotator).stem / f"{lang}.json"
            if not recording.exists():
                raise ValueError(f"{recording}: no annotator-eval answers of '{request.annotator}' for {lang} "
                                 "(run annotator-eval with this annotator first)")
            skills[lang] = annotator_eval_skill(recording)
    return {"annotator": request.annotator, "model": getattr(model, "name", None),
            **probe_languages(corpus_root, langs, complete_with(model, "leakage"), n=request.n, seed=request.seed,
                              probes=list(request.probes), annotator_eval=skills)}


def write_leakage(report: Dict[str, Any], output: Path, markdown: Optional[Path] = None) -> None:
    """The report as JSON at ``output`` and, given ``markdown``, as Markdown there."""
    write_json(output, report)
    if markdown is not None:
        write_text(markdown, leakage_markdown(report))
