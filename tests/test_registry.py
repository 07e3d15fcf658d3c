"""Every registered name resolves in a fresh interpreter, through the entry points alone."""
import configparser
import json
import subprocess
from importlib.metadata import entry_points
from pathlib import Path

import pytest

GROUPS = ("spacy_factories", "spacy_misc", "spacy_scorers", "thinc_llm_tasks", "thinc_llm_models")
ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / "components" / "resources" / "annotators"


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
    from spacy_llm.registry import registry as llm_registry

    import spacy_llm_loop.annotators.llm  # noqa: F401

    assert names["thinc_llm_tasks"] == sorted(n for n in llm_registry.llm_tasks.get_all()
                                              if n.startswith("spacy-llm-loop."))
    assert names["thinc_llm_models"] == sorted(n for n in llm_registry.llm_models.get_all()
                                               if n.startswith("spacy-llm-loop."))


def test_every_subpackage_is_installed():
    """setup.cfg lists packages explicitly (components/ maps to spacy_llm_loop): none may be missing."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    found = {".".join(("spacy_llm_loop",) + p.parent.relative_to(ROOT / "components").parts)
             for p in (ROOT / "components").rglob("__init__.py")}
    assert found - listed == set()


def test_names_are_versioned_and_prefixed():
    for group in ("spacy_misc", "spacy_scorers", "thinc_llm_tasks", "thinc_llm_models"):
        for name in declared()[group]:
            assert name.startswith("spacy-llm-loop.") and name.rsplit(".", 1)[-1].startswith("v")


def test_factory_in_fresh_interpreter(python):
    code = ("import spacy; nlp = spacy.blank('xx'); "
            "nlp.add_pipe('uncertainty', config={'ner_component': 'x'}); print('ok')")
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


def test_llm_annotator_pipeline_builds_in_fresh_interpreter(python, tmp_path):
    """The annotator config resolves our spacy-llm task and model through the entry points alone (no import)."""
    code = (
        "import sys, spacy; from spacy.util import load_config\n"
        f"config = load_config({str(PACKAGED / 'openai-compatible.cfg')!r}, "
        "overrides={'components.llm.task.lang': 'zul'})\n"
        "nlp = spacy.util.load_model_from_config(config, auto_fill=True)\n"
        "assert 'spacy_llm_loop.annotators' not in sys.modules\n"
        "print(type(nlp.get_pipe('llm')._model).__name__, type(nlp.get_pipe('llm')._task).__name__)"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ChatModel", "TokenNERTask"]
