"""Reading, checking and writing MasakhaNER data: CoNLL, DocBin and Prodigy JSONL."""
