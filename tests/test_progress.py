"""How a training stopped, read as spaCy's loop decides it (patience from the earliest best step)."""
import srsly

from spacy_llm_loop.learner.progress import scores_path, training_summary

SCHEDULE = {"max_steps": 1200, "patience": 600, "eval_frequency": 200}


def _log(tmp_path, evaluations):
    log = tmp_path / "train.log"
    log.write_text("E    #  LOSS  SCORE\n", encoding="utf-8")
    srsly.write_jsonl(scores_path(log), [{"epoch": 0, "step": s, "score": f} for s, f in evaluations])
    return log


def test_patience_counts_from_the_earliest_best_and_full_precision_breaks_ties(tmp_path):
    # rounded to two decimals these three would tie at 0.61; spaCy keeps step 200 and stops at 800
    log = _log(tmp_path, [(0, 0.0), (200, 0.6149), (400, 0.6120), (600, 0.6060), (800, 0.60)])
    assert training_summary(log, SCHEDULE) == {"last_step": 800, "best_step": 200, "best_score": 0.6149,
                                               "stopped_by": "patience"}


def test_the_cap_and_a_tie_at_the_best(tmp_path):
    log = _log(tmp_path, [(0, 0.0), (200, 0.5), (800, 0.7), (1000, 0.7), (1200, 0.69)])
    summary = training_summary(log, SCHEDULE)
    assert summary["best_step"] == 1000 and summary["stopped_by"] == "max_steps"  # 800 + 600 > 1200: the cap
    log = _log(tmp_path, [(0, 0.0), (200, 0.0), (400, 0.0), (600, 0.0)])
    assert training_summary(log, SCHEDULE)["stopped_by"] == "patience"  # no improvement after step 0


def test_the_console_table_when_there_is_no_jsonl(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  SCORE \n"
                   "  0       0          0.00     49.56    0.00    0.00\n"
                   "  4     200         19.09    914.12   37.04    0.37\n", encoding="utf-8")
    assert training_summary(log, {"max_steps": 200, "patience": 600})["best_step"] == 200
