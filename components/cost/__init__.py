"""The cost step (arXiv 2404.02261, step 4): what the LLM labels cost, from the usage ledger at dated prices,
against what people would have cost for the same sentences under documented assumptions; entity F1 gained per
dollar. The pre-flight estimate before anything is spent is the loop's ``--dry-run`` (``loop/estimate.py``)."""
