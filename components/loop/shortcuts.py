"""The ``loop`` command's shortcut options as dotted config overrides.

``--rounds 3`` is ``--loop.rounds 3``, ``--llm-endpoint URL`` is ``--annotator.endpoint URL``, and so on: the
mapping lives here, beside the config it writes into (:mod:`.settings`), so the command and any other caller
get the same overrides. An option left at its "not given" value (None, or an empty string for the options a
spaCy project passes as empty variables) sets nothing, so the config's own value stands.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from ..learner.transfer import TRANSFER_MAX


def shortcut_overrides(*, lang: Optional[str] = None, seed: Optional[int] = None, rounds: Optional[int] = None,
                       query_size: Optional[str] = None, corpus: Optional[Union[str, Path]] = None,
                       learner_config: Optional[Union[str, Path]] = None, runs: Optional[Union[str, Path]] = None,
                       run_name: Optional[str] = None, gpu_id: Optional[int] = None, llm_endpoint: str = "",
                       llm_model: str = "", budget_usd: str = "", budget_tokens: str = "", transfer_langs: str = "",
                       transfer_max: int = TRANSFER_MAX, transfer_ratio: float = 0.0,
                       init_tok2vec: str = "") -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(loop_overrides, learner_overrides)`` for the options given; paths as strings.

    ``run_name`` '' is the default name; ``budget_*`` are strings (a project variable may be empty) and a
    ValueError when not numbers; ``transfer_max`` and ``transfer_ratio`` count only with ``transfer_langs``
    (a ratio of 0: no cap); ``init_tok2vec`` is the learner's ``paths.init_tok2vec``.
    """
    shortcuts = {"loop.lang": lang, "loop.seed": seed, "loop.rounds": rounds, "loop.query_size": query_size,
                 "paths.corpus": corpus, "paths.learner_config": learner_config, "paths.runs": runs,
                 "loop.run_name": run_name or None, "loop.gpu_id": gpu_id, "annotator.endpoint": llm_endpoint or None,
                 "annotator.model_name": llm_model or None,
                 "annotator.budget_usd": float(budget_usd) if budget_usd else None,
                 "annotator.budget_tokens": int(budget_tokens) if budget_tokens else None,
                 "loop.transfer_langs": transfer_langs or None,
                 "loop.transfer_max": transfer_max if transfer_langs else None,
                 "loop.transfer_ratio": transfer_ratio if transfer_langs and transfer_ratio else None}
    loop = {key: str(value) if isinstance(value, Path) else value for key, value in shortcuts.items()
            if value is not None}
    learner = {"paths.init_tok2vec": init_tok2vec} if init_tok2vec else {}
    return loop, learner
