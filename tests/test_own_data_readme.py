"""The "Your own data" page (``docs/own-data.md``), run as written: from a text file to ``spacy.load`` in a fresh
interpreter.

The commands are read out of that page (between its ``own-data`` markers), so the page and this test cannot
drift apart. What the test changes: the example files' folder (absolute), the port (a free one), the learner's
schedule (short, appended to the ``loop`` line), and ``pip install`` goes into a fresh virtualenv. The language
(Afrikaans) is not in MasakhaNER, the labels are the example's own (NAME, CROP), there is no seed and no test
data, and the annotator is the real LLM annotator path (HTTP client, TokenNER prompt and parser, cache, ledger)
against a SIMULATED OpenAI-compatible server on 127.0.0.1 that answers by a rule (capitalised words are NAME).
"""
import json
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import pytest
import spacy
import srsly
from spacy.scorer import Scorer
from spacy.training import Example

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import make_doc, sentence_id
from spacy_llm_loop.simulate.rules import capitalised_tags

from .conftest import ROOT
from .helpers.fresh_venv import fresh_venv_with

pytestmark = pytest.mark.slow
EXAMPLES = "examples/own-data/"
PAGE = ROOT / "docs" / "own-data.md"
FAST = ["--learner.training.max_steps", "200", "--learner.training.eval_frequency", "50"]


def own_data_section() -> Tuple[List[str], str]:
    """The page's shell commands (comments dropped) and its Python code, between its ``own-data`` markers."""
    text = PAGE.read_text(encoding="utf-8")
    part = text.split("<!-- own-data:start -->")[1].split("<!-- own-data:end -->")[0]
    bash = re.search(r"```bash\n(.*?)```", part, re.DOTALL).group(1)
    code = re.search(r"```python\n(.*?)```", part, re.DOTALL).group(1)
    return [line for line in bash.splitlines() if line.strip() and not line.lstrip().startswith("#")], code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else "the server exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {seconds} s")


def test_the_own_data_page_runs_from_a_text_file_to_spacy_load(tmp_path) -> None:
    pytest.importorskip("build")
    commands, code = own_data_section()
    port = _free_port()
    wheel, server = None, None
    try:
        for line in commands:
            line = line.replace(EXAMPLES, f"{ROOT / EXAMPLES}/").replace(":8000", f":{port}").replace(
                "--port 8000", f"--port {port}")
            argv = shlex.split(line.rstrip("&").strip())
            if argv[:2] == ["pip", "install"]:
                wheel = str(tmp_path / argv[2])
                continue
            assert argv[0] == "python", line
            argv[0] = sys.executable
            if line.rstrip().endswith("&"):
                server = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                _wait_for(port, server)
                continue
            if argv[3] == "loop":
                argv += FAST
            done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
            assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    run = tmp_path / "runs" / "af"
    loop = srsly.read_json(run / "loop.json")
    assert loop["lang"] == "af" and loop["labels"] == ["NAME", "CROP"] and loop["seed_source"] == "annotator"
    assert len(loop["rounds"]) == 4 and all(r["test"] is None and r["n_gold"] == 0 for r in loop["rounds"])
    assert loop["rounds"][0]["annotation"]["n_received"] == loop["rounds"][0]["n_labelled"] > 0
    assert not list(run.glob("round-*/judged.jsonl"))  # no gold seed: the learner only echoes the annotator, no judge
    assert srsly.read_json(tmp_path / "exports" / "af" / "export.json")["sentences_by_source"] == {
        "llm:local": loop["rounds"][-1]["n_labelled"]}
    # Quality floor: on pool sentences never labelled, the learner agrees with the rule it was taught.
    model = spacy.load(run / "round-03" / "model")
    labelled = {task["meta"]["sentence_id"] for task in srsly.read_jsonl(run / "round-03" / "labelled.jsonl")}
    unseen = [d for d in load_docs(tmp_path / "corpus" / "af" / "train.spacy") if sentence_id(d) not in labelled]
    examples = [Example(model(make_doc(model.vocab, [t.text for t in d])),
                        make_doc(model.vocab, [t.text for t in d], capitalised_tags([t.text for t in d], "NAME")))
                for d in unseen[:100]]
    assert Scorer.score_spans(examples, "ents")["ents_f"] >= 0.8
    # The page's Python lines, in a new interpreter of a fresh virtualenv with only the wheel installed.
    assert wheel is not None and Path(wheel).exists(), wheel
    python = fresh_venv_with(wheel, tmp_path / "fresh")
    printed = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert "('Lerato Khumalo', 'NAME'" in printed.stdout and "('Upington', 'NAME'" in printed.stdout, printed.stdout
    meta = json.loads(subprocess.run([python, "-c", "import spacy, json; print(json.dumps(spacy.load('xx_af_ner')"
                                                    ".meta['spacy_llm_loop']))"], capture_output=True, text=True,
                                     cwd=tmp_path, check=True).stdout)
    assert meta["labels"] == ["NAME", "CROP"] and meta["seed_source"] == "annotator" and meta["test_ents_f"] is None
