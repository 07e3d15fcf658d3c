"""The TokenNER task (prompt, grouping, examples), the providers' request bodies, rate limits; external API tests."""
import json
import os
import threading
from pathlib import Path

import pytest
import spacy
from spacy.util import load_config

from spacy_llm_loop.data.corpus import load_docs
from spacy_llm_loop.data.docs import make_doc
from spacy_llm_loop.errors import InputError
from spacy_llm_loop.llm.models.providers import AnthropicMessages, OpenAIChat
from spacy_llm_loop.llm.models.ratelimit import RateLimiter
from spacy_llm_loop.llm.models.response import LLMResponse
from spacy_llm_loop.llm.tasks.token_ner.examples import read_examples
from spacy_llm_loop.llm.tasks.token_ner.registry import make_token_ner_task
from spacy_llm_loop.llm.tasks.token_ner.task import RESULT_KEY

from .conftest import PACKAGED

WORDS = [["UMandla", "uhambele", "eThekwini", "."], ["Ngo", "2019"], ["Sawubona", "!"]]


def test_prompt_has_the_papers_parts():
    examples = [{"tokens": ["Le", "Gauteng"], "tags": ["O", "B-LOC"]}]
    task = make_token_ner_task("zul", examples=lambda: examples)
    prompt = task.render(WORDS[:2])
    assert "isiZulu" in prompt or "Zulu" in prompt
    for tag in ("B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-DATE", "I-DATE"):
        assert f"- {tag}:" in prompt
    assert "MasakhaNER annotation guidelines" in prompt
    assert '[["Le", "O"], ["Gauteng", "B-LOC"]]' in prompt
    payload = json.loads(prompt.rsplit("Input: ", 1)[1].rsplit("\nOutput:", 1)[0])
    assert payload == {"sentences": [{"id": 1, "tokens": WORDS[0]}, {"id": 2, "tokens": WORDS[1]}]}


def test_unknown_language_needs_a_name():
    with pytest.raises(ValueError, match="language"):
        make_token_ner_task("xyz")
    assert "Klingon" in make_token_ner_task("xyz", language="Klingon").render([["a"]])


@pytest.mark.parametrize("per_request", [1, 2, 4])
def test_groups_of_n_sentences_and_back(per_request):
    """N sentences per request; the answers are read back into the right docs, each independently."""
    nlp = spacy.blank("xx")
    task = make_token_ner_task("zul", sentences_per_request=per_request)
    docs = [make_doc(nlp.vocab, words) for words in WORDS]
    prompts = list(task.generate_prompts(docs))
    assert sum(len(list(p)) for p, _ in prompts) == -(-len(WORDS) // per_request)
    gold = {0: ["B-PER", "O", "B-LOC", "O"], 1: ["O", "B-DATE"], 2: ["O", "O"]}
    responses, groups = [], []
    for i, (doc_prompts, _) in enumerate(prompts):
        if list(doc_prompts):
            groups.append([i + j for j in range(per_request) if i + j < len(WORDS)])
            records = [{"id": n + 1, "output": [[w, t] for w, t in zip(WORDS[k], gold[k])]}
                       for n, k in enumerate(groups[-1])]
            if 2 in groups[-1]:  # the third sentence gets a tag outside the schema
                records[-1]["output"][0][1] = "B-EVENT"
            responses.append([LLMResponse(json.dumps({"sentences": records}), request_id=f"r{len(groups)}")])
        else:
            responses.append([])
    out = list(task.parse_responses([[d] for d in docs], responses))
    assert [d.user_data[RESULT_KEY]["tags"] for d in out] == [gold[0], gold[1], None]
    assert [(e.text, e.label_) for e in out[0].ents] == [("UMandla", "PER"), ("eThekwini", "LOC")]
    assert out[2].user_data[RESULT_KEY]["problems"] == {"unknown_tag": 1}
    assert out[0].user_data[RESULT_KEY]["request_id"] == "r1"


def test_examples_come_from_the_seed_never_the_test_split(small_corpus):
    examples = read_examples(small_corpus / "train.jsonl", 2)
    assert len(examples) == 2 and not any(t != "O" for t in examples[0]["tags"])
    assert any(t != "O" for t in examples[1]["tags"])
    with pytest.raises(InputError, match="test split"):
        read_examples(small_corpus / "test.jsonl", 2)
    assert read_examples(None) == []


def test_openai_body_and_json_mode():
    body = OpenAIChat().body("gpt-4-turbo", "hi", {"temperature": 0.1, "json_mode": True})
    assert body == {"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.1,
                    "response_format": {"type": "json_object"}}
    assert "Authorization" not in OpenAIChat().headers(None)
    assert AnthropicMessages().body("claude-3-haiku-20240307", "hi", {})["max_tokens"] == 4096


def test_rate_limiter_blocks_past_the_window():
    limiter = RateLimiter(requests_per_minute=2, tokens_per_minute=1000)
    limiter.acquire(10)
    limiter.acquire(10)
    third = threading.Thread(target=limiter.acquire, args=(10,), daemon=True)
    third.start()
    third.join(0.5)
    assert third.is_alive(), "a third request within the minute must wait"
    with pytest.raises(ValueError, match="never fit"):
        RateLimiter(tokens_per_minute=100).acquire(101)


def test_token_ner_annotator_config_assembles():
    config = load_config(PACKAGED / "openai-compatible.cfg",
                         overrides={"components.llm.task.lang": "zul"})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["llm"]


# -- the real APIs: run only with a key (never in CI) ---------------------------------------------------------------
def _annotate_one(config_name: str, tmp_path: Path, small_corpus: Path):
    config = load_config(PACKAGED / config_name,
                         overrides={"components.llm.task.lang": "tsn",
                                    "components.llm.task.examples.path": str(small_corpus / "train.jsonl"),
                                    "components.llm.model.ledger_path": str(tmp_path / "ledger.jsonl")})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    doc = nlp(make_doc(nlp.vocab, [t.text for t in load_docs(small_corpus / "dev.spacy")[0]]))
    ledger = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert ledger[-1]["outcome"] == "ok" and ledger[-1]["input_tokens"] > 0
    assert doc.user_data[RESULT_KEY]["error"] is None or doc.user_data[RESULT_KEY]["problems"]
    secret = os.environ.get("OPENAI_API_KEY") or os.environ.get("ANTHROPIC_API_KEY") or "-"
    assert secret not in (tmp_path / "ledger.jsonl").read_text()


@pytest.mark.external(env="OPENAI_API_KEY")
def test_gpt_4_turbo_for_real(tmp_path, small_corpus):
    _annotate_one("gpt-4-turbo.cfg", tmp_path, small_corpus)


@pytest.mark.external(env="ANTHROPIC_API_KEY")
def test_claude_3_haiku_for_real(tmp_path, small_corpus):
    _annotate_one("claude-3-haiku.cfg", tmp_path, small_corpus)


def test_rejected_prompts_are_answered_as_failures_with_ner_v3(tmp_path):
    """A 400 (e.g. a content filter) is final: spacy.NER.v3 answers it as a failed sentence, not 'ask again'."""
    from spacy_llm_loop.annotators.base import AnnotationRequest
    from spacy_llm_loop.annotators.llm import make_llm_annotator
    from spacy_llm_loop.simulate.server import SimulatedLLM, SimulatedLLMServer

    simulated = SimulatedLLM({})
    simulated.handle = lambda prompt: (400, json.dumps({"error": {"message": "content filter"}}), {})
    with SimulatedLLMServer(simulated) as server:
        annotator = make_llm_annotator("ner-v3", str(PACKAGED / "ner-v3.cfg"), "tsn",
                                       cache_path=None, endpoint=server.url)
        answers = list(annotator([AnnotationRequest("a", ["Ke", "a", "leboga"]), AnnotationRequest("b", ["Dumela"])]))
    assert sorted(a.id for a in answers) == ["a", "b"]
    assert all(a.tags is None and a.error.startswith("request_failed: rejected") for a in answers)
