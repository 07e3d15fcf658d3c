"""A SIMULATED LLM that answers by a rule, for texts without gold labels (trying the loop on one's own data).

It is not a language model and its labels are not an LLM's: every run of capitalised tokens that does not
start the sentence becomes one entity of ``label`` (``Jan Smit`` -> ``B-NAME I-NAME``). It speaks the real
prompt formats through :class:`~.server.SimulatedLLM` (HTTP server, faults, request log), so the loop's real
HTTP client, parser, cache and ledger run against it offline (``simulate-llm --rule capitalised:NAME``).
:func:`simulated_llm` builds the command's LLM: this one, or the gold-answering one.
"""
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from .server import SimulatedLLM, gold_from

RULES = ("capitalised",)


def capitalised_tags(tokens: Sequence[str], label: str) -> List[str]:
    """IOB2 tags: runs of capitalised tokens after the first token are entities of ``label``."""
    tags: List[str] = []
    for i, token in enumerate(tokens):
        if i > 0 and token[:1].isupper() and token[:1].isalpha():
            tags.append(f"I-{label}" if tags and tags[-1] != "O" else f"B-{label}")
        else:
            tags.append("O")
    return tags


class RuleLLM(SimulatedLLM):
    """A SIMULATED LLM answering every sentence by :func:`capitalised_tags` (see the module docstring)."""

    def __init__(self, rule: str, **settings: Any) -> None:
        name, _, label = rule.partition(":")
        if name not in RULES or not label:
            raise ValueError(f"unknown rule '{rule}'; expected one of {', '.join(f'{r}:<LABEL>' for r in RULES)}")
        super().__init__({}, **settings)
        self.label = label

    def tags_for(self, tokens: Sequence[str]) -> List[str]:
        """The rule's tags (no gold is looked up)."""
        return capitalised_tags(tokens, self.label)


def simulated_llm(gold: Optional[Union[str, Path]] = None, rule: str = "", *, fault_rate: float = 0.0,
                  latency: float = 0.0, log_path: Optional[Union[str, Path]] = None,
                  normalize: Optional[str] = None) -> SimulatedLLM:
    """The ``simulate-llm`` command's LLM: answers from the ``gold`` corpus, or by ``rule`` for texts without
    labels; exactly one of them (a ValueError otherwise, and for an unknown rule or normal form, which is
    case-insensitive, or an unlabelled corpus)."""
    if (gold is None) == (not rule):
        raise ValueError("give a gold corpus to answer from, or --rule (for texts without labels), not both")
    settings: Dict[str, Any] = {"fault_rate": fault_rate, "latency": latency, "log_path": log_path,
                                "normalize": normalize.upper() if normalize else None}
    return RuleLLM(rule, **settings) if gold is None else SimulatedLLM(gold_from(gold), **settings)
