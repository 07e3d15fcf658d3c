"""A person in the loop, within a budget: the doubtful LLM labels of a round go to review as Prodigy tasks.

:mod:`.settings` (``spacy-llm-loop.Review.v1``: budget, ranking, reviewer, waiting), :mod:`.rank` (which
sentences are most in doubt), :mod:`.tasks` (the Prodigy review tasks and the reviewer's answers, checked line by
line), :mod:`.simulated` (the SIMULATED reviewer of the benchmarks) and :mod:`.timing` (what reviewing costs a
person). The loop's step that uses them is ``loop/reviewing.py``.
"""
