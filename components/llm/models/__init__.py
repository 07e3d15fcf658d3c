"""spacy-llm models (registered in ``llm_models``): concurrent, cached, rate-limited chat clients."""
