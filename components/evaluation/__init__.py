"""Entity-level evaluation (MasakhaNER-comparable) and the paper's token-level metric."""
