"""spacy-llm tasks (registered in ``llm_tasks``)."""
