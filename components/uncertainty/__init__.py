"""Uncertainty of a trained NER model: token marginals, doc-level scores, and the spaCy component."""
