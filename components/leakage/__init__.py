"""Data-leakage checks.

- :mod:`.overlap` (with :mod:`.normalise`): exact and near-duplicate sentences between named sets
  (few-shot examples, seed, annotated pool, dev, test); :mod:`.overlap_run` gathers a run folder's
  sets and checks a converted corpus's splits.
- :mod:`.probes`: memorisation probes of the annotating LLM.
"""
