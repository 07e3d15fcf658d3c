"""``package``: a run's pipeline as a wheel that installs into a fresh virtualenv and loads in a new interpreter.

The fresh virtualenv gets the wheel alone (``--no-deps --no-index``: nothing is downloaded); its
dependencies (spaCy, this package) are the test environment's, reached through a ``.pth`` line that adds
the test interpreter's site directories, so the check is the wheel's own contents and entry points.
"""
import json
import subprocess
import sys
import venv

import pytest

from spacy_llm_loop.loop.main import run_loop
from spacy_llm_loop.packaging import package_run

from .conftest import FAST_TRAINING, ROOT

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
    env = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env)
    python = str(env / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages")]
    (tmp_path / "fresh.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in ours))
    subprocess.run(["cp", str(tmp_path / "fresh.pth"), f"{site}/zz_test_env.pth"], check=True)
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", built["wheels"][0]],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    loaded = subprocess.run([python, "-c", LOAD, built["package"]], capture_output=True, text=True, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    out = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert out["pipes"][-1] == "uncertainty" and out["uncertainty"] and "uncertainty" not in out["lean"]
    assert out["meta"]["run"] == result["run"] and out["meta"]["annotator_simulated"] is True
    assert out["meta"]["n_labelled"] == result["rounds"][-1]["n_labelled"]
