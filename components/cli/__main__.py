"""``python -m spacy_llm_loop.cli``, the same as ``python -m spacy_llm_loop`` (as it was when cli was one module)."""
from . import main

main()
