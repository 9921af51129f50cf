"""SuperNI's exact match and ROUGE-L on real instances, with values worked out from the official
definition (normalise = lowercase, drop string.punctuation, collapse whitespace, keep articles;
ROUGE-L = LCS F-measure over rouge-score's tokens with Porter stemming, best over references)."""

import json
import os

import pytest

from data_fixtures import real_data_dir
from optiml_jax.constants import EXACT_MATCH, ROUGE_L
from optiml_jax.evaluation.metrics import exact_match, generation_metrics, headline_metric, normalize_answer, rouge_l


def _references(task: str, instance_id: str) -> list[str]:
    with open(os.path.join(real_data_dir(), "superni", "tasks", f"{task}.json"), encoding="utf-8") as f:
        instances = json.load(f)["Instances"]
    return next(i["output"] for i in instances if i["id"] == instance_id)


COUNCILMEN = ("task648_answer_generation", "task648-f3b6e5ecf0d54875b47af379a505cfd2")  # ["the city councilmen"]
SURGERY = ("task393_plausible_result_generation", "task393-a0728867ea124129a69ce05dc4b44a60")  # 11 references
COPA = ("task1393_superglue_copa_text_completion", "task1393-3333a3c18e3744f899e65937f405445a")  # ["A"]
ENTAILMENT = ("task1344_glue_entailment_classification", "task1344-e2e0b311e9054658a24644d11122ce31")  # ["0"]

CASES = [
    # (instance, prediction, exact match, ROUGE-L F)
    (COUNCILMEN, "The City Councilmen.", 1.0, 1.0),  # case and punctuation are normalised away
    (COUNCILMEN, "  the   city\tcouncilmen  ", 1.0, 1.0),  # whitespace runs collapse
    # Articles stay (unlike SQuAD): no match. LCS 2 of 2 predicted / 3 reference tokens: P=1, R=2/3, F=0.8.
    (COUNCILMEN, "city councilmen", 0.0, 0.8),
    # LCS "the": P=1/2, R=1/3, F=2·(1/6)/(5/6)=0.4.
    (COUNCILMEN, "the demonstrators", 0.0, 0.4),
    (COUNCILMEN, "", 0.0, 0.0),  # empty prediction
    (COUNCILMEN, "...", 0.0, 0.0),  # punctuation only: nothing left to match
    # Porter stems both "canceled" and "cancelled" to "cancel": ROUGE-L 1 against the 2nd reference, EM 0.
    (SURGERY, "The surgery had to be canceled", 0.0, 1.0),
    (SURGERY, "he had to go back to the hospital.", 1.0, 1.0),  # the 4th of 11 references
    # Best reference "he had to go back to the hospital": LCS "had to go back" = 4, P=4/6, R=4/8, F=4/7.
    (SURGERY, "the patient had to go back", 0.0, 4 / 7),
    (COPA, "(A)", 1.0, 1.0),
    (COPA, "a", 1.0, 1.0),
    (ENTAILMENT, "0.", 1.0, 1.0),
    (ENTAILMENT, "1", 0.0, 0.0),
]


@pytest.mark.parametrize("instance, prediction, em, rouge", CASES)
def test_official_values_on_real_instances(instance, prediction, em, rouge):
    references = _references(*instance)
    assert exact_match(prediction, references) == em
    assert rouge_l(prediction, references) == pytest.approx(rouge, abs=1e-9)


def test_task_score_is_the_mean_times_100():
    cases = CASES[:4]
    values = generation_metrics([_references(*c[0]) for c in cases], [c[1] for c in cases])
    assert values[EXACT_MATCH] == pytest.approx(100 * (1 + 1 + 0 + 0) / 4)
    assert values[ROUGE_L] == pytest.approx(100 * (1 + 1 + 0.8 + 0.4) / 4)


def test_normalisation_and_bad_references():
    assert normalize_answer("  The, Answer!\n(is) 42. ") == "the answer is 42"
    with pytest.raises(ValueError, match="non-empty list"):
        exact_match("x", [])
    with pytest.raises(ValueError, match="non-empty list"):
        rouge_l("x", "a plain string")
    with pytest.raises(ValueError, match="2 predictions for 1 examples"):
        generation_metrics([["a"]], ["a", "b"])


def test_tk_instruct_headline_metric_per_category():
    assert headline_metric("Textual Entailment") == EXACT_MATCH
    assert headline_metric("Word Analogy") == EXACT_MATCH
    assert headline_metric("Grammar Error Correction") == ROUGE_L
    assert headline_metric("Title Generation") == ROUGE_L
