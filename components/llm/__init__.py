"""The LLM annotator: spacy-llm tasks and models registered under ``spacy-llm-loop.`` names."""
