"""A committee of learners (query by committee: Seung, Opper & Sompolinsky, COLT 1992; for sequence labelling,
Settles & Craven, EMNLP 2008, "vote entropy" and "Kullback-Leibler" disagreement).

The committee is the pipeline's own NER and the members saved with the uncertainty component: learners of the
same config, each trained on a bootstrap resample of the round's training data with its own seed
(:mod:`spacy_llm_loop.learner.committee`). Every member parses the docs greedily with its per-step action
probabilities, and :mod:`.ensemble` aggregates them: the token entropy is that of the members' mean
distribution (consensus entropy), ``doc._.uncertainty["bald"]`` is the members' disagreement, the
Jensen-Shannon divergence ``H[mean] - mean H`` (the "mutual information" of Monte Carlo dropout, with the
members in place of the dropout passes), and an entity's confidence is the share of members that predict it.
"""
from typing import List, Sequence, cast

from spacy.attrs import NORM
from spacy.language import Language
from spacy.tokens import Doc
from thinc.types import Ints2d

from .ensemble import Ensemble, EnsembleOutput
from .greedy import action_names, greedy_parses


def member_docs(member: Language, docs: Sequence[Doc], stop_at: str) -> List[Doc]:
    """Copies of ``docs`` in the member's vocab (same tokens, norms and sentence starts, no entities), run through
    the member's components before ``stop_at``."""
    copies = []
    for doc in docs:
        copy = Doc(member.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc],
                   sent_starts=[t.is_sent_start for t in doc])
        for token in doc:
            member.vocab.strings.add(token.norm_)
        norms = cast(Ints2d, doc.to_array([NORM]))  # uint64 ids: spaCy's stub types to_array as float64
        copy.from_array([NORM], norms)  # tokenizer exceptions' norms: features of the tok2vec
        copies.append(copy)
    for name, proc in member.pipeline:
        if name == stop_at:
            break
        copies = list(proc.pipe(copies)) if hasattr(proc, "pipe") else [proc(doc) for doc in copies]
    return copies


def committee_estimate(nlp: Language, ner_name: str, members: Sequence[Language], docs: List[Doc],
                       tags: Sequence[str]) -> List[EnsembleOutput]:
    """The committee's estimate of each doc: the pipeline's own NER (on the docs as they are, entities cleared
    to missing by the caller) and every member's."""
    ensemble = Ensemble(len(docs), tags)
    for learner, learner_docs in [(nlp, docs), *((m, member_docs(m, docs, ner_name)) for m in members)]:
        ner = learner.get_pipe(ner_name)
        ensemble.add(greedy_parses(ner, learner_docs), action_names(ner))
    return ensemble.outputs()
