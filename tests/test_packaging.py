"""``package``: a run's pipeline as a wheel that installs into a fresh virtualenv and loads in a new interpreter
(:func:`.helpers.fresh_venv.fresh_venv_with`: the wheel's own contents and entry points are what is checked)."""
import json
import subprocess

import pytest

from spacy_llm_loop.loop.main import run_loop
from spacy_llm_loop.packaging import package_run

from .conftest import FAST_TRAINING, ROOT
from .helpers.fresh_venv import fresh_venv_with

pytestmark = pytest.mark.slow
LOAD = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
doc = nlp("Mma Ramaphosa o ne a le kwa Gaborone ka Labone .")
lean = spacy.load(sys.argv[1], exclude=["uncertainty"])
print(json.dumps({"pipes": nlp.pipe_names, "uncertainty": doc._.uncertainty, "meta": nlp.meta["spacy_llm_loop"],
                  "lean": lean.pipe_names, "file": spacy.__file__, "requirements": nlp.meta["requirements"]}))
"""


def test_package_builds_a_wheel_that_loads_in_a_fresh_virtualenv(small_corpus, tmp_path) -> None:
    pytest.importorskip("build")
    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "24", "seed_set.size": "48",
                "annotator.cache_path": str(tmp_path / "cache.sqlite")}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING)
    built = package_run(tmp_path / "runs" / result["run"], tmp_path / "packages", name="tsn_test_ner", version="1.2.3")
    assert built["wheels"] and built["package"].endswith("_tsn_test_ner")
    assert any(r.startswith("spacy-llm-loop>=") for r in built["requirements"])
    python = fresh_venv_with(built["wheels"][0], tmp_path / "fresh")
    loaded = subprocess.run([python, "-c", LOAD, built["package"]], capture_output=True, text=True, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    out = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert out["pipes"][-1] == "uncertainty" and out["uncertainty"] and "uncertainty" not in out["lean"]
    assert out["meta"]["run"] == result["run"] and out["meta"]["annotator_simulated"] is True
    assert out["meta"]["n_labelled"] == result["rounds"][-1]["n_labelled"]
