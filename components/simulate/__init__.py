"""Simulated stand-ins for paid services (named as such wherever they appear).

They sit above what they imitate (the LLM client in ``llm/``, the leakage probes' prompts) and what they are
calibrated and judged with (the recordings and metrics of ``annotator_eval/``), so those never import them.
"""
