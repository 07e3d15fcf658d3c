"""The paper's token-level NER prompt as a spacy-llm task (``spacy-llm-loop.TokenNER.v1``)."""
