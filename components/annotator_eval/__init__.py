"""Choosing the LLM annotator (arXiv 2404.02261, step 1) from recorded annotations, without calling a model.

``recorded`` reads the recordings, ``agreement`` computes the paper's consistency, Fleiss' kappa and an
entity-level agreement across runs, ``entities`` scores entities against gold, ``failures`` counts format
failures, and ``report`` puts one row per file together (``annotator-eval``).
"""
