"""The guided annotator prompt (MasakhaNER's guideline, similar k-shot examples per request) and the count of the
entities spacy.NER.v3 drops. No key and no network: models are built without keys or against a local server."""
import hashlib
import json
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest
import spacy
import srsly
from spacy.util import load_config

from spacy_llm_loop.annotators.base import AnnotationContext, AnnotationRequest, annotator_block
from spacy_llm_loop.annotators.llm import LLMAnnotator, entities_not_aligned, make_llm_annotator
from spacy_llm_loop.data.docs import make_doc
from spacy_llm_loop.data.prodigy import doc_to_task
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.llm.models.registry import keys_not_required
from spacy_llm_loop.llm.tasks.token_ner.registry import make_token_ner_task_v2
from spacy_llm_loop.llm.tasks.token_ner.similar import SimilarExamples, choose, make_similar_examples
from spacy_llm_loop.package_data import packaged_annotators

from .conftest import PACKAGED

Row = Tuple[List[str], List[str]]
# The seed of the v1 hash below: these three rows, exactly, in this order.
V1_SEED: List[Row] = [
    (["Ke", "a", "leboga", "thata", "."], ["O"] * 5),
    (["Rre", "Masisi", "o", "etetse", "Gaborone", "maabane", "."], ["O", "B-PER", "O", "O", "B-LOC", "B-DATE", "O"]),
    (["Pula", "e", "nele", "kwa", "Francistown", "ka", "Ferikgong", "2019", "."],
     ["O", "O", "O", "O", "B-LOC", "O", "B-DATE", "I-DATE", "O"]),
]
V1_SENTENCES = [["Pula", "e", "nele", "kwa", "Maun", "."], ["Ke", "a", "leboga", "."]]
# sha256 of gpt-4-turbo.cfg's prompt for V1_SENTENCES, computed before TokenNER.v2 and SimilarExamples existed:
# zero-shot, and with V1_SEED's examples. Prompt caches key on this text: it must never change.
V1_HASHES = {"zero-shot": "3d0e4e13501ea2b51ac3e3f7791af06ecd0789d2cc4c818dc8291bf1b97fab14",
             "seed": "af634fa52355ca870df40179326fd40f9d3e4ea85bf2e899e215c3abcbe92ca3"}
SEED: List[Row] = V1_SEED + [
    (["Batho", "ba", "le", "bantsi", "ba", "ile", "kwa", "kerekeng", "."], ["O"] * 9),
    (["Mma", "Dow", "o", "bua", "le", "Mokwena", "kwa", "Maun", "."],
     ["O", "B-PER", "O", "O", "O", "B-PER", "O", "B-LOC", "O"]),
    (["Lefapha", "la", "Thuto", "le", "tlhagisitse", "pego", "ngwaga", "o", "o", "fetileng", "."],
     ["B-ORG", "I-ORG", "I-ORG", "O", "O", "O", "B-DATE", "I-DATE", "I-DATE", "I-DATE", "O"]),
    (["Lefapha", "la", "Thuto", "le", "buile", "maabane", "."], ["B-ORG", "I-ORG", "I-ORG", "O", "O", "B-DATE", "O"]),
]


def write_seed(path: Path, rows: Sequence[Row], split: str = "train") -> Path:
    """A Prodigy-style seed file (as the loop writes one) of ``rows``."""
    vocab = spacy.blank("xx").vocab
    srsly.write_jsonl(path, [doc_to_task(make_doc(vocab, words, tags), {"split": split, "sentence_id": f"s{i}"})
                             for i, (words, tags) in enumerate(rows)])
    return path


def examples_part(prompt: str) -> str:
    """The prompt's examples: between "Examples:" and the request's own (last) "Input:"."""
    return prompt.split("Examples:", 1)[1].rsplit("Input: ", 1)[0] if "Examples:" in prompt else ""


def example_tokens(prompt: str) -> List[List[str]]:
    return [json.loads(line[len("Input: "):])["sentences"][0]["tokens"]
            for line in examples_part(prompt).splitlines() if line.startswith("Input: ")]


def guided_annotator(tmp_path: Path, seed: Path, monkeypatch: pytest.MonkeyPatch) -> LLMAnnotator:
    """The packaged guided annotator, prepared for a run whose seed is ``seed``, built without an API key."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with keys_not_required():  # as `loop --dry-run` builds it: no key, nothing sent
        annotator = make_llm_annotator("gpt-4-turbo-guided", "gpt-4-turbo-guided", "tsn", cache_path=None)
        annotator.prepare(AnnotationContext(tmp_path / "run", seed, "tsn"))
    return annotator


# -- the v1 prompt is byte-identical ---------------------------------------------------------------------------------
@pytest.mark.parametrize("examples", ["zero-shot", "seed"])
def test_v1_prompt_of_gpt_4_turbo_is_unchanged(examples, tmp_path):
    path = str(write_seed(tmp_path / "seed.jsonl", V1_SEED)) if examples == "seed" else None
    config = load_config(PACKAGED / "gpt-4-turbo.cfg", overrides={"components.llm.task.lang": "tsn",
                                                                  "components.llm.task.examples.path": path})
    with keys_not_required():
        nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    prompt = nlp.get_pipe("llm")._task.render(V1_SENTENCES)
    assert hashlib.sha256(prompt.encode("utf-8")).hexdigest() == V1_HASHES[examples]


# -- the guided prompt -----------------------------------------------------------------------------------------------
def test_guided_prompt_has_the_guideline_and_the_most_similar_examples(tmp_path, monkeypatch):
    annotator = guided_annotator(tmp_path, write_seed(tmp_path / "seed.jsonl", SEED), monkeypatch)
    task = annotator._llm()._task
    asked = [["Lefapha", "la", "Thuto", "le", "kopane", "ngwaga", "o", "o", "fetileng", "."]]
    prompt = task.render(asked)
    assert "DATE: all absolute and relative dates and periods" in prompt
    assert "Relative dates are entities too" in prompt and "A range between two dates is one DATE entity" in prompt
    assert "Not entities (tag O): titles, nationalities" in prompt
    assert "lacuna_pos_ner" not in prompt and "#" not in prompt  # the source is cited in the file, not the prompt
    shown = example_tokens(prompt)
    assert len(shown) == 4 and shown[-1] == SEED[5][0] and shown[-2] == SEED[6][0]  # the closest last
    assert any(all(t == "O" for t in tags) for words, tags in SEED if words in shown)  # one entity-free example
    assert asked[0] not in shown
    assert task.render(asked) == prompt  # deterministic
    assert guided_annotator(tmp_path, tmp_path / "seed.jsonl", monkeypatch)._llm()._task.render(asked) == prompt
    assert annotator.example_sentences() == []  # the source itself leaves out the sentence asked about
    assert annotator.estimate([AnnotationRequest("a", asked[0])])["input_tokens"] > 0


def test_a_seed_sentence_is_never_its_own_example(tmp_path, monkeypatch):
    """The loop's audit asks the annotator about seed sentences: each must not see its own answer."""
    task = guided_annotator(tmp_path, write_seed(tmp_path / "seed.jsonl", SEED), monkeypatch)._llm()._task
    for i in range(0, len(SEED) - 1, 2):
        group = [SEED[i][0], SEED[i + 1][0]]
        shown = example_tokens(task.render(group))
        assert shown and not any(words in shown for words in group)


def test_v2_with_fixed_examples_renders_them_in_every_prompt(tmp_path):
    task = make_token_ner_task_v2("tsn", examples=lambda: [{"tokens": ["Le", "Gauteng"], "tags": ["O", "B-LOC"]}])
    assert '[["Le", "O"], ["Gauteng", "B-LOC"]]' in task.render([["Pula"]])
    assert task.example_tokens() == [["Le", "Gauteng"]]
    own = tmp_path / "guide.txt"
    own.write_text("# cited here\nTag only names.\n", encoding="utf-8")
    assert "Tag only names." in make_token_ner_task_v2("tsn", guideline_path=str(own)).render([["Pula"]])
    assert "MasakhaNER" not in make_token_ner_task_v2("tsn", guideline="Mine.").render([["Pula"]])


# -- choosing the examples -------------------------------------------------------------------------------------------
def test_ties_are_broken_by_file_order_and_the_pool_is_read_once(tmp_path):
    twins = [(["Mma", "Dow", "o", "fitlhile"], ["O", "B-PER", "O", "O"])] * 2 + [(["Ke", "a", "leboga"], ["O"] * 3)]
    source = make_similar_examples(str(write_seed(tmp_path / "seed.jsonl", twins)), k=1, include_empty=False)
    source.select([["Mma", "Dow", "o", "tsamaile"]])
    assert [i for i, _ in source.last_scores] == [0]
    assert source() == [] and source.select([]) == []


@pytest.mark.parametrize("rankings,k,empty,expected", [
    ([[(0, .9), (1, .8), (2, .1)]], 2, set(), [0, 1]),
    ([[(0, .9), (1, .8), (2, .1)]], 2, {2}, [0, 2]),                  # the last pick makes room for an empty one
    ([[(0, .9), (2, .8), (1, .1)]], 2, {2}, [0, 2]),                  # one is in already
    ([[(0, .9), (1, .8)], [(3, .7), (0, .6)]], 3, set(), [0, 3, 1]),  # round-robin over the group, no duplicates
    ([[(0, .9)]], 4, set(), [0]),                                     # a small pool: all of it
    ([[], []], 4, {1}, []),
])
def test_choose(rankings, k, empty, expected):
    assert [i for i, _ in choose(rankings, k, empty)] == expected


def test_a_group_gets_examples_for_each_of_its_sentences(tmp_path):
    source = SimilarExamples(write_seed(tmp_path / "seed.jsonl", SEED), k=2, include_empty=False)
    chosen = source.select([["Mma", "Dow", "o", "etetse", "Maun"], ["Lefapha", "la", "Thuto", "le", "buile"]])
    assert {tuple(eg["tokens"]) for eg in chosen} == {tuple(SEED[4][0]), tuple(SEED[6][0])}


def test_the_test_split_is_refused(tmp_path):
    with pytest.raises(InputError, match="test split"):
        make_similar_examples(str(write_seed(tmp_path / "test.jsonl", SEED[:2], split="test")))
    assert make_similar_examples(None).select([["Pula"]]) == []


# -- the short name --------------------------------------------------------------------------------------------------
def test_the_short_name_resolves_and_has_no_simulated_twin():
    block = annotator_block("gpt-4-turbo-guided")
    assert block["config"] == "gpt-4-turbo-guided" and "gpt-4-turbo-guided" in packaged_annotators()
    assert "sim-gpt-4-turbo-guided" not in packaged_annotators()
    text = (PACKAGED / "gpt-4-turbo-guided.cfg").read_text(encoding="utf-8")
    assert "NOT MEASURED" in text and "not the default" in text
    assert 'name = "gpt-4-turbo"' in text and "SimilarExamples.v1" in text


# -- spacy.NER.v3's drops --------------------------------------------------------------------------------------------
WORDS = ["Ke", "tsene", "weNFP", "kwaGaborone", "ka", "Mosupologo", "le", "Masisi", "."]


@pytest.mark.parametrize("response,ents,expected", [
    ("1. NFP | True | ORG | a party", [(2, 3, "ORG")], 0),                            # expanded to the token
    ("1. NFP | True | ORG | a party", [], 1),                                         # contract dropped it
    ("1. Gaborone | True | LOC | a city\n2. Mosupologo | True | DATE | a day", [(3, 4, "LOC"), (5, 6, "DATE")], 0),
    ("1. Francistown | True | LOC | a city", [], 1),                                  # not in the text at all
    ("1. Masisi | True | PER | a name\n2. Masisi | True | PER | again", [(7, 8, "PER")], 1),  # one entity, named twice
    ("1. Masisi | False | PER | a verb here", [], 0),                                 # not claimed as an entity
    ("1. Masisi | True | EVENT | outside the labels", [], 0),                         # spacy-llm drops it: not ours
    ("1. masisi | True | per | case-insensitive", [(7, 8, "PER")], 0),
    ("1. Masisi | True | LOC | wrong label", [(7, 8, "PER")], 1),
    ("PER: Masisi, Dow\nLOC: Gaborone", [(7, 8, "PER"), (3, 4, "LOC")], 1),          # spacy.NER.v2's lines
    ("", [], 0),
    ("No entities here.", [], 0),
])
def test_entities_not_aligned(response, ents, expected):
    doc = make_doc(spacy.blank("xx").vocab, WORDS)
    doc.set_ents([doc.char_span(doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), label=label) for s, e, label in ents])
    assert entities_not_aligned(response, doc, ["PER", "ORG", "LOC", "DATE"]) == expected


@pytest.mark.parametrize("mode,org,dropped", [("expand", "B-ORG", 1), ("contract", "O", 2)])
def test_ner_v3_expands_and_counts_what_it_drops(mode, org, dropped, tmp_path):
    """spacy.NER.v3 through the annotator: the packaged "expand" makes a name inside a token the token, spacy-llm's
    default "contract" drops it; either way, what did not become an entity is counted."""
    from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer

    config = (PACKAGED / "ner-v3.cfg").read_text(encoding="utf-8")
    assert 'alignment_mode = "expand"' in config
    (tmp_path / "ner-v3.cfg").write_text(config.replace('"expand"', f'"{mode}"'), encoding="utf-8")
    answer = ("1. NFP | True | ORG | a party\n2. Mosupologo | True | DATE | a weekday\n"
              "3. Francistown | True | LOC | a city, but not in this sentence")
    simulated = SimulatedLLM({})
    simulated.handle = lambda prompt: (200, answer, {"x-request-id": "sim-0"})
    with SimulatedLLMServer(simulated) as server:
        annotator = make_llm_annotator("ner-v3", str(tmp_path / "ner-v3.cfg"), "tsn", cache_path=None,
                                       endpoint=server.url)
        [answered] = list(annotator([AnnotationRequest("a", WORDS)]))
    assert answered.tags == ["O", "O", org, "O", "O", "B-DATE", "O", "O", "O"]
    assert answered.meta["problems"] == {"entities_not_aligned": dropped}
