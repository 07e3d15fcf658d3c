"""Unicode normal forms: MasakhaNER's yor and bbj tokens are often decomposed (not NFC); LLMs answer in NFC.

Real sentences with non-NFC tokens, answered with NFC tokens, must parse without loss under both
``on_error`` policies, and keep the input's own token text; so must a whole run through the real task and
client against the SIMULATED server answering in NFC.
"""
import json
import unicodedata
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import spacy
from spacy.util import load_config

from spacy_llm_loop.data.conll import read_conll
from spacy_llm_loop.data.docs import make_doc
from spacy_llm_loop.data.iob import iob_tagset
from spacy_llm_loop.llm.models.cache import cache_key
from spacy_llm_loop.llm.models.response import LLMResponse
from spacy_llm_loop.llm.tasks.token_ner.parser import parse_response
from spacy_llm_loop.llm.tasks.token_ner.registry import make_token_ner_task
from spacy_llm_loop.llm.tasks.token_ner.task import RESULT_KEY
from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer, parse_prompt

from .conftest import PACKAGED

TAGSET = iob_tagset()
Sentence = Tuple[List[str], List[str]]


def nfc(words: List[str]) -> List[str]:
    return [unicodedata.normalize("NFC", w) for w in words]


def not_nfc(words: List[str]) -> int:
    """How many of ``words`` are not in NFC."""
    return sum(w != unicodedata.normalize("NFC", w) for w in words)


def decomposed_sentences(data_dir: Path, lang: str, n: int) -> List[Sentence]:
    """The first ``n`` training sentences of ``lang`` with a non-NFC token, at least one of them an entity's."""
    found = []
    for sentence in read_conll(data_dir / lang / "train.txt").sentences:
        if not_nfc(sentence.words):
            found.append((sentence.words, sentence.tags))
        if len(found) == n:
            break
    assert len(found) == n and any(
        not_nfc([w for w, t in zip(words, tags) if t != "O"]) for words, tags in found), lang
    return found


@pytest.fixture(scope="module")
def sentences(masakhaner_dir: Path) -> Dict[str, List[Sentence]]:
    return {lang: decomposed_sentences(masakhaner_dir, lang, 24) for lang in ("yor", "bbj")}


def nfc_answer(group: List[Sentence]) -> str:
    """What an LLM answers: gold tags, every token in NFC."""
    return json.dumps({"sentences": [{"id": i + 1, "output": [[w, t] for w, t in zip(nfc(words), tags)]}
                                     for i, (words, tags) in enumerate(group)]}, ensure_ascii=False)


@pytest.mark.parametrize("policy", ["drop", "repair"])
@pytest.mark.parametrize("lang", ["yor", "bbj"])
def test_real_sentences_answered_in_nfc_parse_without_loss(sentences, lang: str, policy: str) -> None:
    group = sentences[lang]
    for start in range(0, len(group), 4):  # four sentences per response
        batch = group[start:start + 4]
        results = parse_response(nfc_answer(batch), [words for words, _ in batch], TAGSET, policy)  # type: ignore
        assert [r.tags for r in results] == [tags for _, tags in batch]
        assert all(r.problems == {} and r.repairs == [] and r.error is None for r in results)


@pytest.mark.parametrize("lang", ["yor", "bbj"])
def test_the_task_keeps_the_inputs_own_token_text(sentences, lang: str) -> None:
    """Entities are set on the input's (decomposed) tokens, not on the answer's NFC spelling."""
    nlp = spacy.blank("xx")
    task = make_token_ner_task(lang, sentences_per_request=2)
    group = sentences[lang][:8]
    docs = [make_doc(nlp.vocab, words) for words, _ in group]
    shards = list(task.generate_prompts(docs))
    responses = [[LLMResponse(nfc_answer(group[i:i + 2]))] if list(prompts) else []
                 for i, (prompts, _) in enumerate(shards)]
    out = list(task.parse_responses([[d] for d in docs], responses))
    for doc, (words, tags) in zip(out, group):
        assert [t.text for t in doc] == words and doc.user_data[RESULT_KEY]["tags"] == tags
        assert doc.user_data[RESULT_KEY]["problems"] == {}
        assert all(ent.text == " ".join(words[ent.start:ent.end]) for ent in doc.ents)
    assert sum(not_nfc([t.text for t in doc]) for doc in out) > 0


def test_the_simulated_server_looks_gold_up_in_nfc_and_can_answer_in_nfc(sentences) -> None:
    words, tags = sentences["yor"][0]
    assert SimulatedLLM({tuple(nfc(words)): tags}).tags_for(words) == tags  # gold in NFC, prompt decomposed
    assert SimulatedLLM({tuple(words): tags}).tags_for(nfc(words)) == tags  # and the other way round
    prompt = make_token_ner_task("yor").render([words])
    assert parse_prompt(prompt)[0] == [words]  # the prompt carries the input's own text
    status, text, _ = SimulatedLLM({tuple(words): tags}, normalize="NFC").handle(prompt)
    said = [token for token, _ in json.loads(text)["sentences"][0]["output"]]
    assert status == 200 and said == nfc(words) != words
    _, text, _ = SimulatedLLM({tuple(words): tags}).handle(prompt)
    assert [token for token, _ in json.loads(text)["sentences"][0]["output"]] == words  # default: as asked
    with pytest.raises(ValueError, match="normalize"):
        SimulatedLLM({}, normalize="nfc")


def annotate(server_url: str, lang: str, group: List[Sentence], tmp_path: Path) -> List[spacy.tokens.Doc]:
    """Label ``group`` with the OpenAI-compatible annotator pipeline (real task and client) at ``server_url``."""
    config = load_config(PACKAGED / "openai-compatible.cfg",
                         overrides={"components.llm.task.lang": lang, "components.llm.model.endpoint": server_url,
                                    "components.llm.model.cache_path": str(tmp_path / "cache.sqlite"),
                                    "components.llm.model.ledger_path": str(tmp_path / "ledger.jsonl")})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    return list(nlp.pipe([make_doc(nlp.vocab, words) for words, _ in group]))


@pytest.mark.parametrize("lang", ["yor", "bbj"])
def test_end_to_end_against_a_server_answering_in_nfc(sentences, lang: str, tmp_path: Path) -> None:
    """Every sentence comes back with its gold tags (none dropped as token_mismatch), cached as sent."""
    group = sentences[lang]
    simulated = SimulatedLLM({tuple(words): tags for words, tags in group}, normalize="NFC")
    with SimulatedLLMServer(simulated) as server:
        docs = annotate(server.url, lang, group, tmp_path)
        assert [d.user_data[RESULT_KEY]["tags"] for d in docs] == [tags for _, tags in group]
        assert all(d.user_data[RESULT_KEY]["error"] is None for d in docs)
        assert [[t.text for t in d] for d in docs] == [words for words, _ in group]
        # the server read the input's own text from the prompts (not an NFC copy)
        assert sorted(s for entry in simulated.log for s in entry["sentences"]) == sorted(
            " ".join(words) for words, _ in group)
        sent = len(simulated.log)
        again = annotate(server.url, lang, group, tmp_path)  # a second run: every prompt from the cache
        assert len(simulated.log) == sent
        assert [d.user_data[RESULT_KEY]["tags"] for d in again] == [tags for _, tags in group]
        assert all(d.user_data[RESULT_KEY]["cached"] for d in again)


def test_the_cache_key_is_the_prompt_as_sent() -> None:
    """The prompt is hashed as sent: its normal form is the corpus's, and a change of form is another request."""
    decomposed = unicodedata.normalize("NFD", "Ìbàdàn")
    assert cache_key("openai", "m", {}, decomposed) != cache_key("openai", "m", {}, "Ìbàdàn")
    assert cache_key("openai", "m", {}, decomposed) == cache_key("openai", "m", {}, decomposed)
