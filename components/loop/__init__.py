"""The active-learning loop: seed, train, score, select, annotate, merge, retrain; resumable."""
