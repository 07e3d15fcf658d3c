"""One contract suite over every registered query strategy (after small-text's)."""
import numpy as np
import pytest
import spacy
from spacy.util import registry

from spacy_llm_loop.data.docs import make_doc
from spacy_llm_loop.strategies import STRATEGY_NAMES, QuerySize, select_top
from spacy_llm_loop.strategies import registry as _registered  # noqa: F401
from spacy_llm_loop.strategies.diverse import VECTOR_KEY, k_center
from spacy_llm_loop.uncertainty.component import install_extensions

install_extensions()
DIVERSE = ("entropy-diverse",)  # trade uncertainty for spread: not the top scores by design


def make_pool(n=30, seed=1):
    import random

    rng = random.Random(seed)
    vocab = spacy.blank("xx").vocab
    docs = []
    for i in range(n):
        doc = make_doc(vocab, [f"w{j}" for j in range(1 + i % 7)])
        doc._.uncertainty = {"mean_entropy": rng.random(), "max_entropy": rng.random(),
                             "least_confidence": rng.random(), "mnlp": -rng.random(), "bald": rng.random()}
        doc.user_data[VECTOR_KEY] = np.array([rng.gauss(0, 1) for _ in range(8)], dtype="float32")
        docs.append(doc)
    return docs


@pytest.fixture(params=sorted(STRATEGY_NAMES))
def strategy(request):
    return registry.misc.get(STRATEGY_NAMES[request.param])()


def test_returns_unique_indices_into_the_pool(strategy):
    pool = make_pool()
    sel = strategy(pool, QuerySize(10))
    assert len(sel.indices) == 10 == len(set(sel.indices))
    assert all(0 <= i < len(pool) for i in sel.indices)


def test_never_selects_excluded(strategy):
    pool = make_pool()
    exclude = set(range(0, 30, 2))
    sel = strategy(pool, QuerySize(15), exclude=exclude)
    assert not set(sel.indices) & exclude
    assert sorted(sel.indices) == list(range(1, 30, 2))


def test_empty_pool_raises(strategy):
    with pytest.raises(ValueError, match="empty pool"):
        strategy([], QuerySize(3))
    with pytest.raises(ValueError, match="empty pool"):
        strategy(make_pool(4), QuerySize(3), exclude={0, 1, 2, 3})


def test_exposes_scores_behind_each_choice(strategy):
    pool = make_pool()
    sel = strategy(pool, QuerySize(5))
    assert len(sel.scores) == 5 and len(sel.pool_scores) == len(pool)
    assert sel.scores == [sel.pool_scores[i] for i in sel.indices]
    assert sel.strategy == strategy.name
    if strategy.name not in DIVERSE:  # the ranking strategies take the top scores, in order
        assert sel.scores == sorted(sel.scores, reverse=True)
        assert min(sel.scores) >= max(s for i, s in enumerate(sel.pool_scores) if i not in sel.indices)


def test_fraction_and_token_budget(strategy):
    pool = make_pool(40)
    assert len(strategy(pool, QuerySize(0.05, "fraction"), reference_size=200).indices) == 10
    sel = strategy(pool, QuerySize(20, "tokens"))
    assert 0 < sum(len(pool[i]) for i in sel.indices) <= 20


def test_deterministic_for_a_seed(strategy):
    pool = make_pool()
    assert strategy(pool, QuerySize(8), seed=3).indices == strategy(pool, QuerySize(8), seed=3).indices


def test_more_than_available_gives_all(strategy):
    assert sorted(strategy(make_pool(6), QuerySize(50)).indices) == list(range(6))


def test_uncertainty_strategies_pick_the_most_uncertain():
    pool = make_pool()
    measure = {"entropy": "mean_entropy", "max-entropy": "max_entropy", "least-confidence": "least_confidence",
               "bald": "bald"}
    for name, key in measure.items():
        sel = registry.misc.get(STRATEGY_NAMES[name])()(pool, QuerySize(3))
        assert sel.indices == sorted(range(30), key=lambda i: -pool[i]._.uncertainty[key])[:3]
    mnlp = registry.misc.get(STRATEGY_NAMES["mnlp"])()(pool, QuerySize(3))
    assert mnlp.indices == sorted(range(30), key=lambda i: pool[i]._.uncertainty["mnlp"])[:3]


def test_bald_without_monte_carlo_dropout_says_what_it_needs():
    pool = make_pool(3)
    del pool[2]._.uncertainty["bald"]
    with pytest.raises(ValueError, match="Pool item 2 .* estimator 'mc_dropout'"):
        registry.misc.get(STRATEGY_NAMES["bald"])()(pool, QuerySize(2))


def test_uncertainty_strategy_without_scores_names_the_item():
    pool = make_pool(3)
    pool[1]._.uncertainty = None
    with pytest.raises(ValueError, match="Pool item 1 .* 'uncertainty' component"):
        registry.misc.get(STRATEGY_NAMES["entropy"])()(pool, QuerySize(2))


@pytest.mark.parametrize("text,expected", [
    ("5%", QuerySize(0.05, "fraction")), ("0.05", QuerySize(0.05, "fraction")), ("200", QuerySize(200, "count")),
    ("4000tok", QuerySize(4000, "tokens")), ("4000 tokens", QuerySize(4000, "tokens")),
])
def test_query_size_parse(text, expected):
    assert QuerySize.parse(text) == expected


@pytest.mark.parametrize("text", ["five", "-3", "0", "150%"])
def test_query_size_rejects(text):
    with pytest.raises(ValueError):
        QuerySize.parse(text)


def test_select_top_ties_broken_by_seed():
    scores = [1.0] * 10
    picks = {tuple(select_top(scores, QuerySize(3), seed=s)) for s in range(20)}
    assert len(picks) > 1


def test_token_budget_smaller_than_any_sentence():
    with pytest.raises(ValueError, match="smaller than every sentence"):
        select_top([0.5, 0.2], QuerySize(1, "tokens"), lengths=[3, 4])


def test_nan_score_names_item():
    with pytest.raises(ValueError, match="NaN score for pool item 1"):
        select_top([0.5, float("nan")], QuerySize(1))


def test_k_center_spreads_the_batch_over_the_space():
    near = [[1.0, 0.0], [0.99, 0.01], [0.98, 0.02], [0.0, 1.0], [-1.0, 0.0]]
    assert k_center(np.array(near), 3) == [0, 4, 3]  # the most uncertain, then the farthest, then the next


def test_diverse_strategy_skips_near_duplicates_of_what_it_chose():
    pool = make_pool(12)
    for i, doc in enumerate(pool):  # two clusters: 0-5 very uncertain and alike, 6-11 less uncertain and apart
        doc._.uncertainty["mean_entropy"] = 1.0 - i / 100
        doc.user_data[VECTOR_KEY] = np.array([1.0, 0.001 * i] if i < 6 else [np.cos(i), np.sin(i)], dtype="float32")
    diverse = registry.misc.get(STRATEGY_NAMES["entropy-diverse"])(candidates=2.0)(pool, QuerySize(4))
    top = registry.misc.get(STRATEGY_NAMES["entropy"])()(pool, QuerySize(4))
    assert top.indices == [0, 1, 2, 3] and diverse.indices[0] == 0
    assert len([i for i in diverse.indices if i < 6]) < 4  # not four near-duplicates


def test_diverse_strategy_without_vectors_names_the_item():
    pool = make_pool(3)
    del pool[1].user_data[VECTOR_KEY]
    with pytest.raises(ValueError, match="Pool item 1 .* no sentence vector"):
        registry.misc.get(STRATEGY_NAMES["entropy-diverse"])()(pool, QuerySize(3))


def test_quality_weighted_entropy_avoids_what_the_annotator_gets_wrong():
    """Two equally uncertain sentences: the one whose predicted entity is of a type the audit finds unreliable
    (DATE, precision 0.2) scores lower; without an audit the strategy is mean entropy."""
    vocab = spacy.blank("xx").vocab
    docs = [make_doc(vocab, ["a", "b", "c"]) for _ in range(3)]
    for doc, ents, entropy in zip(docs, [{"0:1:DATE": 0.9}, {"0:1:PER": 0.9}, {}], [0.5, 0.5, 0.4]):
        doc._.uncertainty = {"mean_entropy": entropy, "ent_confidence": ents}
    strategy = registry.misc.get(STRATEGY_NAMES["entropy-quality"])()
    assert strategy(docs, QuerySize(2)).scores == [0.5, 0.5]  # no audit: plain entropy
    audit = {"per_type": {"DATE": {"p": 0.2}, "PER": {"p": 0.9}}, "spurious": 0, "o_tokens": 100}
    strategy.use_audit(audit)
    selection = strategy(docs, QuerySize(3))
    assert selection.indices == [1, 2, 0]  # PER: 0.5 * exp(-0.09) > 0.4 > DATE: 0.5 * exp(-0.72)
    assert selection.scores[0] == pytest.approx(0.5 * np.exp(-0.09))
    strategy.use_audit({**audit, "spurious": 10})  # 0.1 spurious entities per O token: 0.3 for 3 tokens
    assert strategy(docs, QuerySize(3)).pool_scores[2] == pytest.approx(0.4 * np.exp(-0.3))
    with pytest.raises(ValueError, match="weight must be 0 or more"):
        registry.misc.get(STRATEGY_NAMES["entropy-quality"])(weight=-1)


def test_the_partial_sort_picks_exactly_what_the_full_sort_picks() -> None:
    import numpy as np

    from spacy_llm_loop.strategies.base import QuerySize, select_top

    rng = np.random.default_rng(0)
    for trial in range(50):
        scores = list(rng.integers(0, 6, size=300) / 5.0)  # many ties, some at the cut
        exclude = set(rng.choice(300, size=20, replace=False).tolist())
        n = int(rng.integers(1, 280))
        got = select_top(scores, QuerySize(n, "count"), exclude=exclude, seed=trial)
        candidates = [i for i in range(300) if i not in exclude]
        tiebreak = np.random.default_rng(trial).random(len(candidates))
        values = np.asarray([scores[i] for i in candidates])
        full = [candidates[j] for j in np.lexsort((tiebreak, -values))][:n]
        assert got == full


def _records_and_vectors(pool):
    """What a round saves of a scored pool: ``scores.jsonl``'s records and ``vectors.npy``'s rows."""
    records = [{"id": f"s{i}", "n_tokens": len(doc), **doc._.uncertainty} for i, doc in enumerate(pool)]
    return records, np.stack([doc.user_data[VECTOR_KEY] for doc in pool])


@pytest.mark.parametrize("size", [QuerySize(7), QuerySize(0.03, "fraction"), QuerySize(25, "tokens")])
def test_every_strategy_chooses_from_saved_scores_as_from_scored_docs(strategy, size, tmp_path):
    """A sharded pool is never held as Docs: the choice from its saved scores and memory-mapped vectors must be the
    same. The pool is large enough that the diverse strategy's shortlist reads only some of the rows."""
    pool = make_pool(200)
    for i, doc in enumerate(pool):  # entities for the quality weighting, of types the audit below rates
        doc._.uncertainty["ent_confidence"] = {f"0:1:{('DATE', 'PER', 'ORG')[i % 3]}": 0.5 + (i % 5) / 10}
    if hasattr(strategy, "use_audit"):
        strategy.use_audit({"per_type": {"DATE": {"p": 0.2}, "PER": {"p": 0.9}}, "spurious": 3, "o_tokens": 100})
    records, vectors = _records_and_vectors(pool)
    np.save(tmp_path / "vectors.npy", vectors)
    lengths = [len(doc) for doc in pool]
    from_docs = strategy(pool, size, reference_size=len(pool), seed=3)
    from_scores = strategy.select_scores(iter(records), lengths, size, reference_size=len(pool), seed=3,
                                         vectors=np.load(tmp_path / "vectors.npy", mmap_mode="r"))
    assert from_scores.indices == from_docs.indices and from_scores.scores == from_docs.scores
    assert from_scores.pool_scores == from_docs.pool_scores


def test_saved_scores_of_another_pool_are_refused(strategy):
    if not strategy.needs_model:
        pytest.skip("random reads no scores")
    records, _ = _records_and_vectors(make_pool(5))
    for lengths in ([1] * 4, [1] * 6):
        with pytest.raises(ValueError, match=f"5 score records for a pool of {len(lengths)} sentences"):
            strategy.select_scores(iter(records), lengths, QuerySize(2), vectors=_records_and_vectors(make_pool(5))[1])


def test_the_diverse_strategy_from_saved_scores_needs_their_vectors():
    records, vectors = _records_and_vectors(make_pool(5))
    diverse = registry.misc.get(STRATEGY_NAMES["entropy-diverse"])()
    for bad in (None, vectors[:4], np.zeros((5, 0), dtype="float32")):
        with pytest.raises(ValueError, match="needs the round's sentence vectors"):
            diverse.select_scores(iter(records), [1] * 5, QuerySize(2), vectors=bad)
