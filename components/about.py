"""Package metadata."""
__title__ = "spacy-llm-loop"
__version__ = "0.1.0"
