"""The paper's annotator-selection table (arXiv 2404.02261), to set our figures beside.

Keyed by the folder names of the project's copy of the recordings; the authors' own folder names
(``data/foundation_model_selection/`` in mkandai/llms-in-the-loop) are accepted as aliases.
"""
from typing import Dict, Optional

# consistency (%), Fleiss' kappa, records unusable for kappa (of 50), entity F1 of the first run vs gold
PAPER_TABLE: Dict[str, Dict[str, Dict[str, float]]] = {
    "gpt-4-turbo": {
        "zul": {"consistency": 93.53, "kappa": 0.979, "excluded": 1, "first_run_entity_f1": 0.72},
        "bam": {"consistency": 90.02, "kappa": 0.940, "excluded": 3, "first_run_entity_f1": 0.58},
        "tsn": {"consistency": 89.68, "kappa": 0.932, "excluded": 2, "first_run_entity_f1": 0.62},
        "fon": {"consistency": 86.90, "kappa": 0.898, "excluded": 3},
        "bbj": {"consistency": 86.70, "kappa": 0.923, "excluded": 3},
    },
    "gpt-4-turbo-batch2": {"zul": {"consistency": 93.10, "kappa": 0.973}},
    "mistral-7b": {
        "zul": {"consistency": 54.35}, "bam": {"consistency": 40.55}, "tsn": {"consistency": 42.73},
        "fon": {"consistency": 44.82}, "bbj": {"consistency": 73.81},
    },
}
ALIASES = {"gpt-4-turbo-0.1-temp": "gpt-4-turbo", "gpt_4_turbo_batch_size_2": "gpt-4-turbo-batch2",
           "mistral-0.1-temp": "mistral-7b"}


def paper_figures(model: str, lang: str) -> Optional[Dict[str, float]]:
    """The paper's figures for ``model`` on ``lang``, or ``None`` when its table has none."""
    return PAPER_TABLE.get(ALIASES.get(model, model), {}).get(lang)
