"""Memorisation probes: does the annotating LLM already know MasakhaNER 2.0's sentences or annotations?

Four probes ask a chat model about a seeded sample of gold sentences, each with a statistic, an
interval, a pre-stated one-sided test and its p-value (JSON-serialisable dicts):

- :mod:`.quiz` (B, C): the Data Contamination Quiz (Golchin & Surdeanu, arXiv 2311.06233) on the
  sentence text, and a new quiz on its gold tags; the original's position is balanced over A-D.
- :mod:`.source` (A): "which NER dataset does this sample come from", as in arXiv 2404.02261.
- :mod:`.completion` (D): guided vs general completion (Golchin & Surdeanu, arXiv 2308.08493).
- :mod:`.verdict`: a verdict per language and overall, Holm-corrected across languages.

Probes take ``complete: Callable[[List[str]], List[str]]``; :mod:`.client` builds one from an
annotator's model (the project's :class:`~spacy_llm_loop.llm.models.client.ChatModel`, so probes
share its concurrency, prompt cache and usage ledger) at temperature 0.
"""
