"""How long a person takes to review a sentence whose entities are already drawn: a stated, sourced range.

Annotating from scratch runs at :data:`FROM_SCRATCH_WORDS_PER_HOUR` (the cost report's human model uses the same
range). Correcting pre-drawn entities saves part of that time; user studies of NER pre-annotation measured 13-23%
saved (Lingren et al., JAMIA 2014, clinical NER; an INCEpTION study, 2025, ~23% with a BERT model's suggestions),
and up to 58% when the person only accepts or rejects suggestions (Ganchev et al., LAW 2007). So reviewing takes
:data:`REVIEW_SHARE` (42-87%) of the time annotating takes; ``low`` is the fast end of both ranges, ``high`` the
slow end, ``central`` their midpoints. Estimates, not measurements of this project's reviewers.
"""
from typing import Dict, Tuple

Range = Tuple[float, float]
FROM_SCRATCH_WORDS_PER_HOUR: Range = (2000.0, 5500.0)  # JAMIA 2019 clinical NER user study (cost/human.py)
REVIEW_SHARE: Range = (0.42, 0.87)  # reviewing time / annotating time (the sources above)
SOURCES = ("reviewing pre-drawn entities takes 42-87% of the time of annotating from scratch (13-23% saved: "
           "Lingren et al. 2014, INCEpTION 2025; up to 58%: Ganchev et al. 2007), at 2,000-5,500 words per hour "
           "from scratch (the cost report's human model)")


RANGE = ("low", "central", "high")  # the keys of every time range: fast end, midpoint, slow end


def review_seconds(words: int) -> Dict[str, float]:
    """``{"low", "central", "high"}`` seconds a person would spend reviewing a sentence of ``words`` words."""
    wph, share = FROM_SCRATCH_WORDS_PER_HOUR, REVIEW_SHARE
    low = words / wph[1] * share[0]
    central = words / ((wph[0] + wph[1]) / 2) * ((share[0] + share[1]) / 2)
    high = words / wph[0] * share[1]
    return {"low": 3600 * low, "central": 3600 * central, "high": 3600 * high}
