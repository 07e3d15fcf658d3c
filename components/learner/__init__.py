"""The learner: a spaCy pipeline (CNN on CPU, transformer on GPU) trained from a config."""
