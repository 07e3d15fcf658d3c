"""spacy-llm-loop: LLM-assisted active learning for NER in low-resource languages.

The package's source lives in the project's ``components/`` folder and installs
as ``spacy_llm_loop``. Registered functions are found by spaCy through the entry
points declared in ``setup.cfg``; importing this package registers nothing by
itself, so importing it stays cheap and free of side effects.
"""
from .about import __version__

__all__ = ["__version__"]
