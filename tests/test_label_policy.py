"""Label policies, the annotator's audit and the learner's judgement: pure rules, then the loop end to end."""
import json
import re
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from spacy_llm_loop.data.docs import doc_tags, make_doc, set_task
from spacy_llm_loop.data.prodigy import doc_to_task, task_to_doc
from spacy_llm_loop.errors import TaskFormatError
from spacy_llm_loop.policy.audit import audit_labels, unreliable_types
from spacy_llm_loop.policy.registry import PRESETS, label_policy_block, make_label_policy, policy_tag
from spacy_llm_loop.policy.rules import LabelPolicy
from spacy_llm_loop.policy.taught import taught_quality

from .conftest import FAST_TRAINING, ROOT

TAGS = ["B-PER", "O", "B-ORG", "I-ORG", "O", "B-DATE", "O"]
JUDGED = {"llm": [[0, 1, "PER", 0.9], [2, 4, "ORG", 0.05], [5, 6, "DATE", 0.9]],
          "learner": [[0, 1, "PER", 0.9], [3, 5, "ORG", 0.6], [6, 7, "LOC", 0.95]]}


def test_a_preset_read_back_from_a_runs_json_keeps_its_name(tmp_path) -> None:
    """srsly's JSON reader turns the 0.6 a loop.json holds into 0.6000000000000001: the report must still name
    the run's curve after its preset, not after a digest."""
    policy = make_label_policy("disagree-gold3", **PRESETS["disagree-gold3"])
    srsly.write_json(tmp_path / "loop.json", {"label_policy": policy.identity()})
    settings = srsly.read_json(tmp_path / "loop.json")["label_policy"]
    assert policy_tag(make_label_policy(**settings)) == "disagree-gold3"


@pytest.mark.parametrize("settings, distrusted, ents, missing", [
    ({}, (), [(0, 1, "PER"), (2, 4, "ORG"), (5, 6, "DATE")], []),
    # the learner finds the ORG unlikely: it and the learner's overlapping entity become missing
    ({"keep_above": 0.2}, (), [(0, 1, "PER"), (5, 6, "DATE")], [(2, 5, "learner-rejects")]),
    # a distrusted type: its entities missing, whatever the learner says
    ({"distrust": ("DATE",)}, ("DATE",), [(0, 1, "PER"), (2, 4, "ORG")], [(5, 6, "type:DATE")]),
    # the learner's confident LOC, absent from the answer: the answer's O there is in doubt
    ({"learner_adds_above": 0.9}, (), [(0, 1, "PER"), (2, 4, "ORG"), (5, 6, "DATE")], [(6, 7, "learner-adds")]),
    # a learner entity of a distrusted type cuts an answer entity: the whole entity goes
    ({"distrust": ("ORG",)}, ("ORG",), [(0, 1, "PER"), (5, 6, "DATE")],
     [(2, 4, "type:ORG"), (4, 5, "learner-type:ORG")]),
])
def test_policy_rules(settings, distrusted, ents, missing) -> None:
    decision = LabelPolicy("p", **settings).apply(TAGS, JUDGED, distrusted)
    assert decision.ents == ents and decision.missing == missing
    assert set(decision.ents) | set(decision.removed) == {(0, 1, "PER"), (2, 4, "ORG"), (5, 6, "DATE")}


def test_the_audits_unreliable_types_keep_their_own_threshold() -> None:
    """keep_above 0.01 lets the ORG at 0.05 in; with ORG unreliable by the audit, its threshold is 0.2."""
    policy = LabelPolicy("p", keep_above=0.01, keep_above_unreliable=0.2)
    assert policy.needs_audit and policy.needs_judge and not policy.is_trust
    assert policy.apply(TAGS, JUDGED).ents == [(0, 1, "PER"), (2, 4, "ORG"), (5, 6, "DATE")]
    decision = policy.apply(TAGS, JUDGED, unreliable=("ORG",))
    assert decision.ents == [(0, 1, "PER"), (5, 6, "DATE")] and decision.missing == [(2, 5, "learner-rejects")]
    only_unreliable = LabelPolicy("p", keep_above_unreliable=0.2)  # the other types kept whatever the learner says
    assert only_unreliable.apply(TAGS, JUDGED, unreliable=("PER",)).ents == [(0, 1, "PER"), (2, 4, "ORG"),
                                                                              (5, 6, "DATE")]
    assert only_unreliable.apply(TAGS, JUDGED, unreliable=("ORG",)).removed == [(2, 4, "ORG")]


def test_every_preset_is_documented_with_its_settings_and_resolves() -> None:
    """The presets' table in docs/label-policies.md lists each preset, and nothing else, with exactly its settings
    (then optionally a colon or a parenthesis saying more), and each name resolves through the registry to a
    policy carrying them."""
    text = (ROOT / "docs" / "label-policies.md").read_text(encoding="utf-8")
    rows = text[text.index("Presets ("):].split("\n\n")[1].splitlines()[2:]  # the table after the heading line
    table = {}
    for row in rows:
        name, settings = [c.strip() for c in row.strip("|").split("|")]
        table[name.strip("`")] = re.split(r":| \(", settings)[0].strip()
    assert set(table) == set(PRESETS)
    for name, settings in PRESETS.items():
        assert table[name] == (", ".join(f"`{k} = {json.dumps(v)}`" for k, v in settings.items()) or "none"), name
        policy = spacy.util.registry.resolve({"p": label_policy_block(name)})["p"]
        assert policy == make_label_policy(name=name, **settings) and policy_tag(policy) == name


def test_a_policy_without_the_later_setting_keeps_its_identity() -> None:
    """Runs written before keep_above_unreliable existed resume: the setting is in the identity only when set."""
    assert "keep_above_unreliable" not in make_label_policy("disagree-gold3", **PRESETS["disagree-gold3"]).identity()
    preset = make_label_policy("disagree05-audit-gold3", **PRESETS["disagree05-audit-gold3"])
    assert preset.identity()["keep_above_unreliable"] == 0.2 and policy_tag(preset) == "disagree05-audit-gold3"


def test_an_o_the_learner_doubts_becomes_missing_and_entities_are_left_alone() -> None:
    """doubt_o_above: the answer's O tokens the learner puts in some entity (0.3 and 0.6 here) become missing; a
    token the answer puts in an entity is never touched by this rule, however the learner judges it."""
    judged = {**JUDGED, "in_entity": [0.9, 0.3, 0.0, 0.6, 0.6, 0.9, 0.01]}
    decision = LabelPolicy("p", doubt_o_above=0.2).apply(TAGS, judged)
    assert decision.ents == [(0, 1, "PER"), (2, 4, "ORG"), (5, 6, "DATE")]
    assert decision.missing == [(1, 2, "learner-doubts-o"), (4, 5, "learner-doubts-o")]
    with pytest.raises(ValueError, match="needs each token's 'in_entity'"):  # judged by an older version
        LabelPolicy("p", doubt_o_above=0.2).apply(TAGS, JUDGED)
    assert LabelPolicy("p", doubt_o_above=0.2).apply(TAGS, None).missing == []  # not judged: nothing to doubt
    preset = make_label_policy("disagree-doubto-gold3", **PRESETS["disagree-doubto-gold3"])
    assert preset.needs_judge and preset.identity()["doubt_o_above"] == 0.05
    assert "doubt_o_above" not in make_label_policy("disagree-gold3", **PRESETS["disagree-gold3"]).identity()


def test_an_entity_cut_by_a_missing_stretch_is_not_taught_by_halves() -> None:
    judged = {"llm": [[0, 3, "ORG", 0.9]], "learner": [[2, 4, "LOC", 0.95]]}
    decision = LabelPolicy("p", learner_adds_above=0.9).apply(["B-ORG", "I-ORG", "I-ORG", "O"], judged)
    assert decision.ents == [] and decision.missing == [(0, 2, "overlap"), (2, 4, "learner-adds")]


def test_without_a_judgement_only_the_type_rule_applies() -> None:
    decision = LabelPolicy("p", keep_above=0.5, distrust=("DATE",)).apply(TAGS, None, ("DATE",))
    assert decision.ents == [(0, 1, "PER"), (2, 4, "ORG")] and decision.missing == [(5, 6, "type:DATE")]


@pytest.mark.parametrize("settings", [{"keep_above": 1.5}, {"gold_weight": 0}, {"distrust": "DATE"},
                                      {"min_precision": -0.1}, {"keep_above_unreliable": 2.0},
                                      {"doubt_o_above": -0.5}, {"doubt_o_above": 0.0}])
def test_bad_policy_settings_are_refused(settings) -> None:
    with pytest.raises(ValueError, match="label policy 'bad'"):
        LabelPolicy("bad", **settings)


def test_presets_resolve_and_trust_changes_nothing() -> None:
    trust = make_label_policy(**{k: v for k, v in label_policy_block("trust").items() if k != "@misc"})
    assert trust.is_trust and not trust.needs_judge
    assert trust.apply(TAGS, JUDGED).ents == [(0, 1, "PER"), (2, 4, "ORG"), (5, 6, "DATE")]
    combined = make_label_policy(**{k: v for k, v in label_policy_block("combined").items() if k != "@misc"})
    assert combined.needs_audit and combined.needs_judge and combined.gold_weight == 3
    with pytest.raises(ValueError, match="Unknown label policy 'nope'"):
        label_policy_block("nope")


def test_audit_counts_per_type_with_intervals() -> None:
    gold = [["B-PER", "I-PER", "O", "B-DATE"], ["B-ORG", "O", "B-LOC", "O"]]
    pred = [["B-PER", "O", "O", "O"], ["B-LOC", "O", "B-LOC", "B-ORG"]]
    audit = audit_labels(gold, pred + [None], ["PER", "ORG", "LOC", "DATE"])
    per = audit["per_type"]
    assert per["PER"]["outcomes"]["boundary"] == 1 and per["PER"]["p"] == 0.0 and per["PER"]["r"] == 0.0
    assert per["LOC"]["tp"] == 1 and per["LOC"]["n_pred"] == 2 and per["LOC"]["p"] == 0.5 and per["LOC"]["r"] == 1.0
    assert per["ORG"]["outcomes"]["type"] == 1 and audit["confusion"]["ORG"] == {"LOC": 1}
    assert per["DATE"]["outcomes"]["missed"] == 1 and per["DATE"]["p"] is None and per["DATE"]["p_ci"] is None
    assert audit["confusion"]["(spurious)"] == {"ORG": 1}
    low, high = per["LOC"]["p_ci"]
    assert 0 < low < 0.5 < high < 1


def test_a_dropped_answer_counts_as_finding_nothing() -> None:
    audit = audit_labels([["B-PER"], ["B-PER"]], [["B-PER"], None], ["PER"])
    assert audit["dropped"] == 1 and audit["per_type"]["PER"]["r"] == 0.5 and audit["per_type"]["PER"]["p"] == 1.0


def test_unreliable_types_need_the_interval_below_the_threshold() -> None:
    def typed(tp, n_pred):
        return audit_labels([["B-ORG"]] * n_pred, [["B-ORG"]] * tp + [["B-LOC"]] * (n_pred - tp), ["ORG", "LOC"])

    assert unreliable_types(typed(2, 40), 0.6) == ["LOC"]  # LOC: 0 of 38 right
    assert unreliable_types(typed(2, 40), 0.6, min_recall=0.5) == ["ORG", "LOC"]  # ORG: 2 of 40 found
    few = audit_labels([["B-ORG"]] * 3, [["B-LOC"]] * 3, ["ORG", "LOC"])
    assert unreliable_types(few, 0.6) == []  # 3 predictions: too few to judge precision


def test_taught_quality_leaves_missing_tokens_out() -> None:
    nlp = spacy.blank("xx")
    gold = make_doc(nlp.vocab, ["A", "b", "C", "d"], ["B-PER", "O", "B-LOC", "O"])
    taught = make_doc(nlp.vocab, ["A", "b", "C", "d"])
    from spacy.tokens import Span

    taught.set_ents([Span(taught, 0, 1, "PER")], missing=[Span(taught, 2, 3)], default="outside")
    set_task(taught, {"meta": {"round": 1, "label_policy": {"removed": [[2, 3, "ORG"]]}}})
    result = taught_quality([(taught, gold)], round_k=1, policy="p")
    assert result["all"]["ents_f"] == 1.0 and result["all"]["tokens_missing"] == 1
    assert result["all"]["entities_removed"] == 1 and result["round"]["missing_share"] == 0.25


def test_missing_tokens_survive_prodigy_jsonl() -> None:
    nlp = spacy.blank("xx")
    doc = make_doc(nlp.vocab, ["A", "b", "C", "d"])
    from spacy.tokens import Span

    doc.set_ents([Span(doc, 0, 1, "PER")], missing=[Span(doc, 2, 4)], default="outside")
    set_task(doc, {"meta": {"label_policy": {"policy": "p", "missing": [[2, 4, "learner-rejects"]], "removed": []}}})
    task = doc_to_task(doc)
    back = task_to_doc(nlp.vocab, json.loads(json.dumps(task)))
    assert [t.ent_iob_ for t in back] == ["B", "O", "", ""] and doc_tags(back)[0] == "B-PER"
    task["meta"]["label_policy"]["missing"] = [[3, 9, "x"]]
    with pytest.raises(TaskFormatError, match="in.jsonl:7: meta.label_policy.missing holds"):
        task_to_doc(nlp.vocab, task, "in.jsonl", 7)
    task["meta"]["label_policy"]["missing"] = [[0, 1, "x"]]
    with pytest.raises(TaskFormatError, match="overlaps an entity"):
        task_to_doc(nlp.vocab, task)


def test_the_learner_judges_its_own_entities_likely_and_others_not(trained_model, small_corpus) -> None:
    from spacy_llm_loop.data.corpus import load_docs
    from spacy_llm_loop.policy.judge import judge

    nlp = spacy.load(trained_model)
    docs = load_docs(small_corpus / "dev.spacy", nlp.vocab)[:20]
    predicted = list(nlp.pipe(make_doc(nlp.vocab, [t.text for t in d]) for d in docs))
    tags = [doc_tags(d) for d in predicted]
    records = judge(nlp, [f"s{i}" for i in range(len(docs))], [[t.text for t in d] for d in docs], tags)
    assert [r["id"] for r in records] == [f"s{i}" for i in range(len(docs))]
    ents = [x for r in records for x in r["llm"]]
    assert ents and all(x in r["learner"] for r in records for x in r["llm"])  # the answer was the learner's
    assert all(0.0 < x[3] <= 1.0 for x in ents)
    # a span no parse holds gets probability 0
    odd = judge(nlp, ["x"], [[t.text for t in docs[0]]], [["B-DATE"] * 1 + ["I-DATE"] * (len(docs[0]) - 1)])
    assert odd[0]["llm"][0][3] == 0.0
    # each token's probability of lying in some entity: at least that of the learner's entity covering it
    for r, doc in zip(records, docs):
        assert len(r["in_entity"]) == len(doc) and all(0.0 <= p <= 1.0 for p in r["in_entity"])
        assert all(r["in_entity"][i] >= p - 1e-3 for s, e, _, p in r["learner"] for i in range(s, e))
    assert any(p == 0.0 for r in records for p in r["in_entity"])  # and none at all where no parse has one


@pytest.mark.slow
def test_the_loop_teaches_through_the_policy_and_keeps_gold_as_it_is(small_corpus, tmp_path) -> None:
    """A SIMULATED GPT-4-Turbo run with the combined policy: audit first, each round judged by the previous model,
    doubtful entities missing in train.spacy and in the Prodigy export, the gold seed untouched and counted 3x."""
    from spacy_llm_loop.export import export_run
    from spacy_llm_loop.loop.main import run_loop

    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "40", "seed_set.size": "48",
                "annotator.cache_path": str(tmp_path / "llm.sqlite")}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, label_policy="combined")
    assert result["run"] == "tsn-sim-gpt-4-turbo-entropy-lp-combined-seed0"
    run = tmp_path / "runs" / result["run"]
    audit = srsly.read_json(run / "audit.json")
    seed = srsly.read_json(run / "seed.json")["ids"]
    shown = [json.loads(line)["id"] for line in (run / "audit" / "annotations.jsonl").read_text().splitlines()]
    assert set(shown) < set(seed) and len(shown) == len(seed) - 2  # the two k-shot examples are not audited
    assert audit["sentences"] == len(shown) and set(audit["per_type"]) == {"PER", "ORG", "LOC", "DATE"}
    assert result["audit"]["ents_f"] == audit["ents_f"] and result["label_policy"]["name"] == "combined"
    assert (run / "round-01" / "judged.jsonl").exists() and not (run / "round-00" / "judged.jsonl").exists()
    record = result["rounds"][1]
    taught = record["taught"]["round"]
    assert taught["sentences"] > 0 and taught["tokens_missing"] > 0 and taught["entities_removed"] > 0
    # the policy teaches cleaner labels than the answers were
    assert taught["ents_p"] > record["annotation"]["ents_f"]
    train = list(DocBin().from_disk(run / "round-01" / "train.spacy").get_docs(spacy.blank("xx").vocab))
    by_source = {}
    for doc in train:
        by_source.setdefault(doc.user_data["task"]["meta"]["source"], []).append(doc)
    gold_train = by_source["gold"]
    assert len(gold_train) == 3 * len({d.user_data["task"]["meta"]["sentence_id"] for d in gold_train})
    assert all(t.ent_iob != 0 for doc in gold_train for t in doc)  # gold is never made missing
    llm_docs = by_source["llm:sim-gpt-4-turbo"]
    assert any(t.ent_iob == 0 for doc in llm_docs for t in doc)
    exported = export_run(run, tmp_path / "export")
    tasks = [json.loads(line) for line in (tmp_path / "export" / "labelled.jsonl").read_text().splitlines()]
    marked = [t for t in tasks if (t["meta"].get("label_policy") or {}).get("missing")]
    assert marked and exported["tokens_missing"] == sum(m[1] - m[0] for t in marked
                                                        for m in t["meta"]["label_policy"]["missing"])
    assert exported["label_policy"]["name"] == "combined" and exported["audit"]["sentences"] == audit["sentences"]
    back = task_to_doc(spacy.blank("xx").vocab, marked[0])
    assert any(t.ent_iob == 0 for t in back)
    seed_train = list(DocBin().from_disk(run / "round-00" / "train.spacy").get_docs(spacy.blank("xx").vocab))
    assert len({d.user_data["task"]["meta"]["sentence_id"] for d in seed_train}) == len(seed_train)  # all gold: 1x
    # the same run resumes; a trust run of the same seed goes to the plain folder
    assert run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, label_policy="combined")["run"] == \
        result["run"]


@pytest.mark.slow
def test_rejudge_judges_every_answer_again_with_the_newest_model(small_corpus, tmp_path) -> None:
    from spacy_llm_loop.loop.main import run_loop
    from spacy_llm_loop.loop.state import RunFolder

    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 2, "loop.query_size": "30", "seed_set.size": "48", "loop.audit": "none",
                "annotator.cache_path": str(tmp_path / "llm.sqlite")}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, label_policy="disagree-rejudge")
    run = tmp_path / "runs" / result["run"]
    assert result["audit"] is None and not (run / "audit.json").exists()  # loop.audit none
    first = {r["id"] for r in srsly.read_jsonl(run / "round-01" / "judged.jsonl")}
    second = {r["id"]: r for r in srsly.read_jsonl(run / "round-02" / "judged.jsonl")}
    assert first < set(second)  # round 2 judged round 1's answers again, with round 1's model
    from spacy_llm_loop.loop.labelled import RunSentences
    from spacy_llm_loop.loop.settings import load_loop_config, resolve_loop

    config = load_loop_config(ROOT / "configs" / "loop.cfg", settings, label_policy="disagree-rejudge")
    loop_settings, sampler, _, _ = resolve_loop(config)
    sentences = RunSentences(RunFolder(run), loop_settings, sampler,
                             list(DocBin().from_disk(small_corpus / "train.spacy").get_docs(spacy.blank("xx").vocab)),
                             spacy.blank("xx").vocab)
    by_id = {d.user_data["task"]["meta"]["sentence_id"]: d for d in sentences.labelled(2)}
    for answer in sentences.annotations(1):
        expected = loop_settings.label_policy.apply(answer.tags, second[answer.id])
        assert [(e.start, e.end, e.label_) for e in by_id[answer.id].ents] == expected.ents


@pytest.mark.slow
def test_the_loop_holds_the_audits_unreliable_types_to_their_own_threshold(small_corpus, tmp_path) -> None:
    """disagree05-audit-gold3 in a SIMULATED run: every answer is taught as the policy decides it with the audit's
    unreliable types at 0.2 and the others at 0.05 (the loop hands the policy the audit's verdict)."""
    from spacy_llm_loop.loop.main import run_loop

    settings = {"loop.lang": "tsn", "paths.corpus": str(small_corpus), "paths.runs": str(tmp_path / "runs"),
                "loop.rounds": 1, "loop.query_size": "40", "seed_set.size": "48",
                "annotator.cache_path": str(tmp_path / "llm.sqlite")}
    result = run_loop(ROOT / "configs" / "loop.cfg", settings, FAST_TRAINING, label_policy="disagree05-audit-gold3")
    run = tmp_path / "runs" / result["run"]
    unreliable = result["audit"]["unreliable"]
    assert unreliable and result["label_policy"]["keep_above_unreliable"] == 0.2
    policy = make_label_policy(**result["label_policy"])
    judged = {r["id"]: r for r in srsly.read_jsonl(run / "round-01" / "judged.jsonl")}
    answers = {r["id"]: r["tags"] for r in srsly.read_jsonl(run / "round-01" / "annotations.jsonl") if r["tags"]}
    taught = {t["meta"]["sentence_id"]: t["meta"]["label_policy"] for t in srsly.read_jsonl(run / "round-01" /
                                                                                          "labelled.jsonl")
              if t["meta"].get("label_policy") and t["meta"].get("round") == 1}
    assert taught and set(taught) <= set(answers)
    for sid, meta in taught.items():
        decision = policy.apply(answers[sid], judged[sid], (), unreliable)
        assert meta["removed"] == [list(r) for r in decision.removed], sid


def test_a_trust_block_is_the_same_run_as_no_block(tmp_path) -> None:
    """Runs started before label policies (no block in their loop config) resume with the trust block."""
    from thinc.api import Config

    from spacy_llm_loop.loop.state import RunFolder

    text = (ROOT / "configs" / "loop.cfg").read_text()
    config = Config().from_str(text, interpolate=False)
    config["label_policy"] = {"@misc": "spacy-llm-loop.LabelPolicy.v1", "name": "trust"}
    without = config.copy()
    del without["label_policy"]
    folder = RunFolder(Path(tmp_path) / "run")
    assert folder._comparable("loop_config", config.to_str()) == folder._comparable("loop_config", without.to_str())
    config["label_policy"]["keep_above"] = 0.2
    assert folder._comparable("loop_config", config.to_str()) != folder._comparable("loop_config", without.to_str())


def test_the_report_gives_the_pooled_tables_error_for_a_language_without_recordings() -> None:
    from spacy_llm_loop.reporting.report import pooled_caveat

    assert pooled_caveat("zul") == []  # recorded: its own tables
    text = " ".join(pooled_caveat("swa"))
    assert "no recordings of swa" in text and "bam +" in text and "zul -" in text and "kappa" in text
