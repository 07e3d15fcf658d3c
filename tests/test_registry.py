"""Every registered name resolves in a fresh interpreter, through the entry points alone."""
import json
import subprocess
from importlib.metadata import entry_points

import pytest

GROUPS = ("spacy_factories", "spacy_misc", "spacy_scorers")


def declared():
    return {group: sorted(ep.name for ep in entry_points(group=group) if ep.value.startswith("spacy_llm_loop."))
            for group in GROUPS}


def test_every_registration_has_an_entry_point():
    from spacy.util import registry

    import spacy_llm_loop.loop.main  # noqa: F401  (imports every registering module)
    import spacy_llm_loop.uncertainty.component  # noqa: F401

    ours = {"spacy_misc": sorted(n for n in registry.misc.get_all() if n.startswith("spacy-llm-loop.")),
            "spacy_scorers": sorted(n for n in registry.scorers.get_all() if n.startswith("spacy-llm-loop."))}
    names = declared()
    assert names["spacy_misc"] == ours["spacy_misc"]
    assert names["spacy_scorers"] == ours["spacy_scorers"]
    assert names["spacy_factories"] == ["uncertainty"]


def test_names_are_versioned_and_prefixed():
    for group in ("spacy_misc", "spacy_scorers"):
        for name in declared()[group]:
            assert name.startswith("spacy-llm-loop.") and name.rsplit(".", 1)[-1].startswith("v")


def test_factory_in_fresh_interpreter(python):
    code = "import spacy; nlp = spacy.blank('xx'); nlp.add_pipe('uncertainty', config={'ner_component': 'x'}); print('ok')"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("group", ("spacy_misc", "spacy_scorers"))
def test_resolve_in_fresh_interpreter(group, python):
    registry_name = {"spacy_misc": "misc", "spacy_scorers": "scorers"}[group]
    code = (
        "import json, sys; from spacy.util import registry\n"
        f"names = {declared()[group]!r}\n"
        "assert 'spacy_llm_loop' not in sys.modules\n"
        f"print(json.dumps([callable(registry.{registry_name}.get(n)) for n in names]))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert all(json.loads(out.stdout))
