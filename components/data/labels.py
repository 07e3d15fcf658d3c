"""A label set: the entity types a corpus, its annotator and its learner use, each with a short definition.

MasakhaNER's four types (PER, ORG, LOC, DATE) with the paper's definitions are the default. A team with its
own types writes them in a JSON file, one definition per label::

    {"CROP": "a cultivated plant or crop, e.g. maize, cassava", "PEST": "an insect or disease that harms crops"}

or, with a guideline note for the annotator's prompt::

    {"labels": {"CROP": "...", "PEST": "..."}, "guideline": "Tag the crop's name, not the field it grows in."}

The TokenNER prompt lists every IOB2 tag with a definition made from the label's, the parser accepts exactly
these tags, and the learner learns the labels it sees.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from ..errors import InputError
from .iob import MASAKHANER_LABELS, iob_tagset

MASAKHANER_DEFINITIONS: Dict[str, str] = {
    "PER": "a person's name",
    "ORG": "an organisation's name",
    "LOC": "a location's name",
    "DATE": "a date or period expression",
}
# The annotator's note for a label set of the user's own (a MasakhaNER run keeps the paper's guideline).
GENERIC_GUIDELINE = ("Tag only the entity types defined above. An entity of several tokens starts with its B- tag "
                     "and continues with I- tags of the same type; every other token is O.")
_LABEL = re.compile(r"^[^\s]+$")


@dataclass(frozen=True)
class LabelSet:
    """Entity labels in order, each with a definition, and an optional guideline note for the annotator."""

    definitions: Dict[str, str]
    guideline: Optional[str] = None
    source: str = field(default="masakhaner", compare=False)

    def __post_init__(self) -> None:
        if not self.definitions:
            raise ValueError("a label set needs at least one label")
        for label in self.definitions:
            if label == "O" or not _LABEL.match(label) or label.startswith(("B-", "I-")):
                raise ValueError(f"invalid label {label!r}: a label is one word without spaces, not 'O', "
                                 "and does not start with B- or I-")

    @property
    def labels(self) -> Tuple[str, ...]:
        """The labels, in the order given."""
        return tuple(self.definitions)

    @property
    def tagset(self) -> Tuple[str, ...]:
        """The IOB2 tags: ``O``, then ``B-X``, ``I-X`` per label."""
        return iob_tagset(self.labels)

    @property
    def is_masakhaner(self) -> bool:
        """Whether this is MasakhaNER's label set with the paper's definitions (the prompts stay the paper's)."""
        return self.definitions == MASAKHANER_DEFINITIONS and self.guideline is None

    def tag_definitions(self) -> Dict[str, str]:
        """One definition per IOB2 tag, for the TokenNER prompt."""
        tags = {"O": "the token is not part of a named entity"}
        for label, definition in self.definitions.items():
            about = f" ({definition})" if definition else ""
            tags[f"B-{label}"] = f"the first token of a {label} entity{about}"
            tags[f"I-{label}"] = f"a following token of the same {label} entity"
        return tags

    def to_dict(self) -> Dict[str, Any]:
        """``{"labels": {label: definition}, "guideline": ...}`` (the corpus manifest's form)."""
        return {"labels": dict(self.definitions), "guideline": self.guideline}

    @classmethod
    def masakhaner(cls) -> "LabelSet":
        """MasakhaNER's PER, ORG, LOC and DATE."""
        return cls({label: MASAKHANER_DEFINITIONS[label] for label in MASAKHANER_LABELS})

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str = "") -> "LabelSet":
        """From ``{label: definition}`` or ``{"labels": {...}, "guideline": ...}``; a ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object of label -> definition, got {type(data).__name__}")
        labels = data["labels"] if isinstance(data.get("labels"), dict) else data
        guideline = data.get("guideline") if labels is not data else None
        for label, definition in labels.items():
            if not isinstance(definition, str):
                raise ValueError(f"the definition of {label!r} must be a string, got {definition!r}")
        if guideline is not None and not isinstance(guideline, str):
            raise ValueError(f"'guideline' must be a string, got {guideline!r}")
        return cls({str(k): v.strip() for k, v in labels.items()}, guideline, source)

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "LabelSet":
        """From a JSON file (see the module docstring); an :class:`InputError` names the file."""
        path = Path(path)
        if not path.exists():
            raise InputError("labels file not found", path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON: {err.msg}", path, err.lineno) from None
        except ValueError as err:
            raise InputError(str(err), path) from None
