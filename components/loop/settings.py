"""The loop's config (``configs/loop.cfg``): loading with command-line shortcuts, and resolving it.

Sections: ``[paths]`` (corpus folder, learner config, runs folder), ``[loop]``
(lang, rounds, query_size, seed, gpu_id, run_name) and one block each for the
registered ``[seed_set]`` sampler, ``[strategy]`` and ``[annotator]``, and the
``[label_policy]`` (what the learner is taught from the annotator's answers;
``trust`` when the block is absent) and the ``[review]`` (a person reviews the most doubtful answers; none when
the block is absent). The short names ``--annotator gold``,
``--strategy entropy``, ``--seed-sampler entity-rich`` and ``--label-policy
disagree`` replace the whole block with the registered default for that name.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from spacy.util import load_config, registry
from thinc.api import Config

from ..annotators.base import Annotator, annotator_block
from ..data.corpus import LANGUAGES, check_lang
from ..data.labels import LabelSet
from ..data.own import MANIFEST, CorpusInfo, check_lang_code, corpus_info, read_manifest
from ..learner.transfer import TRANSFER_MAX, parse_langs
from ..package_data import config_file
from ..policy.registry import label_policy_block, policy_tag
from ..policy.rules import LabelPolicy
from ..review.settings import ReviewSettings, review_block
from ..strategies.base import QuerySize, Strategy
from ..strategies.registry import strategy_block
from ..strategies.seeding import SEED_SAMPLER_NAMES, SeedSampler, seed_sampler_block
from .devsplit import DevSource, check_dev_source, dev_target

# The one list of settings that may change when a run is resumed: they do not change what the run is (the
# runs folder may move, a run may be extended). ``annotator.batch_size`` is not among them: it decides which
# sentences share a prompt, and a changed grouping would miss the cache and pay again for answers received.
MUTABLE_SETTINGS = ("loop.rounds", "loop.gpu_id", "annotator.budget_usd", "annotator.budget_tokens",
                    "annotator.concurrency", "annotator.endpoint", "annotator.cache_path", "paths.runs",
                    "loop.audit",  # the audit runs once, before round 1; audit.json says what it covered
                    "loop.score_processes",  # the same scores in any number of processes
                    "loop.score_cluster",  # and on a Dask cluster
                    "review.wait")  # each round's reviewed.jsonl freezes what it counted


@dataclass
class LoopSettings:
    """The plain (non-registered) settings of one run."""

    lang: str
    rounds: int
    query_size: QuerySize
    seed: int
    gpu_id: int
    run_name: Optional[str]
    corpus: Path
    learner_config: Path
    runs: Path
    warm_start: bool = False  # round k >= 1 trains on from round k-1's model, not from the config
    dev: DevSource = "labelled"  # the learner's dev data: out of the labelled set, the gold seed, or the gold dev
    dev_share: float = 0.2
    dev_min: int = 30
    labels: LabelSet = field(default_factory=LabelSet.masakhaner)  # the corpus's (MasakhaNER's by default)
    language: str = ""  # the language's name, for the annotator's prompt
    corpus_info: Optional[CorpusInfo] = None  # what the corpus folder holds (its manifest)
    transfer_langs: Tuple[str, ...] = ()  # other languages' gold train data in every round's training ("auto")
    transfer_max: int = TRANSFER_MAX  # sentences per transfer language
    transfer_ratio: Optional[float] = None  # at most this many transfer sentences per target train sentence
    label_policy: LabelPolicy = field(default_factory=LabelPolicy)  # what the learner is taught from the answers
    audit: Optional[int] = 0  # gold seed sentences the annotator labels before round 1 (0: all; None: no audit)
    review: ReviewSettings = field(default_factory=ReviewSettings)  # a person reviews the most doubtful answers
    score_processes: int = 1  # processes that score the pool (0: every core, for a pool of 5,000 or more)
    score_cluster: Optional[str] = None  # a Dask scheduler's address: its workers score the pool instead
    subsample: Optional[QuerySize] = None  # each round scores a seeded random share (or count) of the pool only

    @property
    def info(self) -> CorpusInfo:
        """The corpus's facts, read from its folder when not given."""
        if self.corpus_info is None:
            self.corpus_info = corpus_info(self.corpus)
        return self.corpus_info


def load_loop_config(path: Union[str, Path], overrides: Optional[Dict[str, Any]] = None, *,
                     annotator: Optional[str] = None, strategy: Optional[str] = None,
                     seed_sampler: Optional[str] = None, seed_size: Optional[str] = None,
                     label_policy: Optional[str] = None, review: Optional[Dict[str, Any]] = None) -> Config:
    """Load ``path``, swap in the blocks of the short names, then apply dotted ``overrides`` and interpolate.

    Overrides come last, so ``--annotator gpt-4-turbo --annotator.budget_usd 5`` sets the budget of the
    swapped-in block.
    """
    overrides = dict(overrides or {})
    if "loop.lang" in overrides and "paths.corpus" not in overrides:
        overrides["paths.corpus"] = f"corpus/{overrides['loop.lang']}"
    config = load_config(config_file(path), interpolate=False)
    _lang_from_corpus(overrides, overrides.get("paths.corpus") or config["paths"]["corpus"])
    if annotator:
        config["annotator"] = annotator_block(annotator)
    if strategy:
        config["strategy"] = strategy_block(strategy)
    if seed_sampler or seed_size:
        current = config.get("seed_set", {})
        name = seed_sampler or _short_name(current.get("@misc", ""))
        config["seed_set"] = seed_sampler_block(name, seed_size or current.get("size", "5%"))
    if label_policy:
        config["label_policy"] = label_policy_block(label_policy)
    if review:  # {"budget", "rank", "reviewer", "wait"}: the [review] block of the command-line options
        config["review"] = review_block(**review)
    return Config().from_str(config.to_str(), overrides=overrides, interpolate=True)


def _lang_from_corpus(overrides: Dict[str, Any], corpus: str) -> None:
    """A corpus made by ``prepare`` knows its language: it sets ``loop.lang`` (a different one given is an error)."""
    manifest = read_manifest(corpus)
    if manifest is None:
        return
    given = overrides.get("loop.lang")
    if given is not None and given != manifest["lang"]:
        raise ValueError(f"{corpus} holds language '{manifest['lang']}' (its {MANIFEST}), not '{given}'")
    overrides["loop.lang"] = manifest["lang"]


def _short_name(registered: str) -> str:
    return {v: k for k, v in SEED_SAMPLER_NAMES.items()}.get(registered, "entity-rich")


def resolve_loop(config: Config) -> Tuple[LoopSettings, SeedSampler, Strategy, Annotator]:
    """Check the plain settings and build the registered sampler, strategy and annotator."""
    loop, paths = config["loop"], config["paths"]
    corpus = corpus_info(paths["corpus"])
    lang = check_lang_code(loop["lang"]) if corpus.own else check_lang(loop["lang"])
    settings = LoopSettings(
        lang=lang, rounds=int(loop["rounds"]), query_size=QuerySize.parse(loop["query_size"]),
        seed=int(loop["seed"]), gpu_id=int(loop.get("gpu_id", -1)), run_name=loop.get("run_name") or None,
        corpus=Path(paths["corpus"]), learner_config=config_file(paths["learner_config"]),
        runs=Path(paths["runs"]),
        warm_start=bool(loop.get("warm_start", False)), dev=check_dev_source(loop.get("dev", "labelled")),
        dev_share=float(loop.get("dev_share", 0.2)), dev_min=int(loop.get("dev_min", 30)),
        labels=corpus.labels, language=corpus.language or LANGUAGES.get(lang, lang), corpus_info=corpus,
        transfer_langs=parse_langs(loop.get("transfer_langs")),
        transfer_max=int(loop.get("transfer_max") or TRANSFER_MAX),
        transfer_ratio=float(loop["transfer_ratio"]) if loop.get("transfer_ratio") else None,
        audit=parse_audit(loop.get("audit", "seed")),
        score_processes=int(loop.get("score_processes", 1)),
        score_cluster=cluster_address(loop.get("score_cluster")),
        subsample=parse_subsample(loop.get("subsample")),
    )
    if settings.score_processes < 0:
        raise ValueError(f"loop.score_processes must be 0 (every core) or more, got {settings.score_processes}")
    dev_target(100, settings.dev_share, settings.dev_min)  # checks the share
    if settings.dev == "seed" and "seed" not in corpus.splits and not corpus.pool_labelled:
        raise ValueError("loop.dev = 'seed' carves the learner's dev data out of the gold seed, and this corpus has "
                         "none (no seed file and no gold in the pool: the annotator labels the seed); use "
                         "'labelled' or 'oracle'")
    if settings.transfer_langs and not settings.labels.is_masakhaner:
        raise ValueError(f"transfer adds MasakhaNER's gold data (PER, ORG, LOC, DATE), but {settings.corpus} has "
                         f"labels of its own ({', '.join(settings.labels.labels)}); leave out --transfer-langs")
    if settings.rounds < 0:
        raise ValueError(f"loop.rounds must be 0 or more, got {settings.rounds}")
    blocks = {k: config[k] for k in ("seed_set", "strategy", "annotator", "label_policy", "review") if k in config}
    resolved = registry.resolve(blocks)
    settings.label_policy = resolved.get("label_policy") or LabelPolicy()
    settings.review = resolved.get("review") or ReviewSettings()
    distrust = settings.label_policy.distrust
    unknown = sorted(set(distrust) - set(settings.labels.labels)) if not isinstance(distrust, str) else []
    if unknown:
        raise ValueError(f"label_policy.distrust names types the corpus does not have: {', '.join(unknown)} "
                         f"(its labels: {', '.join(settings.labels.labels)})")
    return settings, resolved["seed_set"], resolved["strategy"], resolved["annotator"]


def cluster_address(setting: Optional[str]) -> Optional[str]:
    """``loop.score_cluster``: None (score on this machine) or a Dask scheduler address (:mod:`.cluster`)."""
    if setting in (None, "", "null", "none", "local"):
        return None
    if "://" not in str(setting):
        raise ValueError(f"loop.score_cluster is a Dask scheduler address such as tcp://10.0.0.5:8786, not "
                         f"'{setting}'")
    return str(setting)


def parse_subsample(value: Any) -> Optional[QuerySize]:
    """``loop.subsample``: absent, ``null`` or ``"all"`` (score the whole pool: None), a share (``"25%"``) or a
    count of pool sentences (``"100000"``) drawn at random each round."""
    if value is None or str(value).strip().lower() in ("", "all", "none", "null", "0"):
        return None
    size = QuerySize.parse(value)
    if size.unit == "tokens":
        raise ValueError(f"loop.subsample is a share (25%) or a count of pool sentences, not tokens: '{value}'")
    return size


def parse_audit(value: Any) -> Optional[int]:
    """``loop.audit``: ``"seed"`` (the whole gold seed: 0), a number of seed sentences, or ``"none"`` (None)."""
    text = str(value).strip().lower()
    if text in ("seed", "all", "0"):
        return 0
    if text in ("none", "off", "false", ""):
        return None
    if text.isdigit():
        return int(text)
    raise ValueError(f"loop.audit must be 'seed', a number of seed sentences or 'none'; got '{value}'")


def run_name(settings: LoopSettings, annotator: Annotator, strategy: Strategy, pretrained: bool = False,
             estimator: str = "beam") -> str:
    """``<lang>-<annotator>-<strategy>[-<learner>][-mc|-committee][-warm][-oracledev|-seeddev][-tx-<langs>][-pt][-lp-<policy>]
    [-rv<budget>...]-seed<k>`` (or ``loop.run_name``), safe as a folder name; ``pt``: the learner starts from
    pretrained tok2vec weights; ``mc``, ``committee``: the uncertainty estimator, when it is not the default beam;
    ``lp-<policy>``: a label policy other than ``trust``, for an annotator whose answers are not gold;
    ``rv<budget>``: a review budget (:meth:`..review.settings.ReviewSettings.tag`); ``sub<share>``: the pool is
    subsampled each round (``loop.subsample``).

    The learner part is left out for the default CNN learner (``configs/learner-cnn.cfg``).
    """
    parts = [settings.lang, annotator.name, strategy.name]
    if learner_name(settings.learner_config) != "cnn":
        parts.append(learner_name(settings.learner_config))
    if estimator != "beam":
        parts.append({"mc_dropout": "mc"}.get(estimator, estimator))
    if settings.warm_start:
        parts.append("warm")
    if settings.dev in ("oracle", "seed"):
        parts.append(f"{settings.dev}dev")
    transfer = getattr(settings, "transfer_langs", ())
    if transfer:
        ratio = getattr(settings, "transfer_ratio", None)
        parts.append("tx-" + "+".join(transfer) + (f"-r{ratio:g}" if ratio else ""))
    if pretrained:
        parts.append("pt")
    policy = getattr(settings, "label_policy", None)  # (the benchmarks name runs from plain namespaces)
    if policy is not None and not policy.is_trust and not getattr(annotator, "gives_gold", False):
        parts.append(f"lp-{policy_tag(policy)}")
    review = getattr(settings, "review", None)
    if review is not None and review.active and not getattr(annotator, "gives_gold", False):
        parts.append(review.tag())
    subsample = getattr(settings, "subsample", None)
    if subsample is not None:
        parts.append("sub" + (f"{100 * subsample.value:g}pct" if subsample.unit == "fraction"
                              else f"{int(subsample.value)}"))
    name = settings.run_name or "-".join(parts + [f"seed{settings.seed}"])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def learner_name(learner_config: Union[str, Path]) -> str:
    """The learner config's short name: ``cnn`` for ``learner-cnn.cfg``, ``trf`` for ``learner-trf.cfg``."""
    stem = Path(learner_config).stem
    return stem[len("learner-"):] if stem.startswith("learner-") else stem
