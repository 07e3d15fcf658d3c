"""``python -m spacy_llm_loop``."""
from .cli import main

main()
