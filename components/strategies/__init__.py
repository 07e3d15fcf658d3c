"""Query strategies: which pool sentences to send to the annotator next (and, in :mod:`.seeding`, which gold
sentences train the first learner)."""
from .base import QuerySize, Selection, Strategy, select_top
from .registry import STRATEGY_NAMES, strategy_block

__all__ = ["QuerySize", "Selection", "Strategy", "select_top", "STRATEGY_NAMES", "strategy_block"]
