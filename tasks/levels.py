"""OPT-IML's evaluation splits across all benchmarks: the dev split of Table 15 and the test split.

Evidence (Iyer et al. 2022, revision of 27 Dec 2022):
- Dev: Table 15 lists the complete validation split, 22 rows; its fully held-out categories are
  Cause Effect Classification, Grammar Error Correction, Stereotype Detection and Word Analogy.
- Test: no table lists it. Stated explicitly: Textual Entailment, Coreference Resolution and
  Dialogue Act Recognition are fully held out (§5.4; SuperNI's official test tasks of these three
  categories, less Winobias which Table 15 puts in dev, are exactly the 44 tasks of Table 12);
  the FLAN NLI and coreference tasks are from fully held-out categories and BoolQ, OpenBookQA and
  ARC are held-out QA tasks (§5.3); the PromptSource/T0 tasks are in held-out categories (§5.2);
  DART and MultiWoZ are held out, Spider is fully supervised (§5.5); the 14 OPT tasks are all
  held out (§5.1). Levels the paper leaves open are decisions in docs/benchmark.md.

Every row names its data sources as SuperNI's `Source` field spells them. OPT-IML keeps train
and evaluation tasks from sharing a data source (§2.3, footnote 4), so the SuperNI catalog holds
out every task built from the source of a fully or partially held-out evaluation task.

Each row lists its member tasks (`members`: names in its benchmark's catalog); a row with several
members is averaged over them (§4.1, e.g. the four WinoBias subsets or the eight Bard files). Rows
of benchmarks without a reader yet (MMLU, the OPT tasks) list none.
"""

from __future__ import annotations

import dataclasses

from optiml_jax.constants import ACCURACY, FULLY_HELD_OUT, FULLY_SUPERVISED, PARTIALLY_HELD_OUT, ROUGE_L

NOT_STATED = "not stated"


@dataclasses.dataclass(frozen=True)
class EvaluationTask:
    split: str  # "dev" or "test"
    name: str
    benchmark: str
    category: str
    level: str
    metric: str
    sources: tuple[str, ...]  # SuperNI `Source` spellings of the same data (for leakage control).
    evidence: str
    members: tuple[str, ...] = ()


def _bard(*suffixes: str) -> tuple[str, ...]:
    return tuple(f"task{1152 + i}_bard_analogical_reasoning_{s}" for i, s in enumerate(suffixes))


_CIVIL_COMMENTS = tuple(
    f"task{1720 + i}_civil_comments_{kind}_classification"
    for i, kind in enumerate(["toxicity", "obscenity", "threat", "sexuallyexplicit", "insult", "severtoxicity"])
)
# WinoWhy explains the answers of WSC273 with its sentences.
_WSC_SOURCES = ("winograd_wsc", "wsc_fiexed", "enhanced_wsc", "wsc; enhanced_wsc", "mwsc", "winowhy")
# WinoMT's sentences are WinoBias's and WinoGender's.
_WINOBIAS_SOURCES = ("wino_bias", "winomt")

_WINOBIAS_SUBSETS = tuple(f"wino_bias/type{t}_{kind}" for t in (1, 2) for kind in ("anti", "pro"))

DEV_SPLIT = (
    EvaluationTask("dev", "Winobias", "promptsource", "Stereotype Detection", FULLY_HELD_OUT, ROUGE_L, _WINOBIAS_SOURCES, "Table 15",
                   _WINOBIAS_SUBSETS),
    EvaluationTask("dev", "Winobias", "superni", "Stereotype Detection", FULLY_HELD_OUT, ROUGE_L, _WINOBIAS_SOURCES, "Table 15",
                   ("task1664_winobias_text_generation",)),
    EvaluationTask("dev", "Bard Analogical Reasoning", "superni", "Word Analogy", FULLY_HELD_OUT, ROUGE_L, ("bard",), "Table 15",
                   _bard("causation", "affordance", "travel", "trash_or_treasure", "tools", "rooms_for_containers",
                         "manipulating_items", "containers")),
    EvaluationTask("dev", "Cause-Effect", "superni", "Cause Effect Classification", FULLY_HELD_OUT, ROUGE_L, ("cod3s",), "Table 15",
                   ("task391_causal_relationship", "task392_inverse_causal_relationship", "task393_plausible_result_generation")),
    EvaluationTask("dev", "COPA", "promptsource", "Cause Effect Classification", FULLY_HELD_OUT, ACCURACY, ("copa",), "Table 15",
                   ("super_glue/copa",)),
    EvaluationTask("dev", "COPA", "superni", "Cause Effect Classification", FULLY_HELD_OUT, ROUGE_L, ("copa",), "Table 15",
                   ("task1393_superglue_copa_text_completion",)),
    EvaluationTask("dev", "COPA", "flan", "Cause Effect Classification", FULLY_HELD_OUT, ACCURACY, ("copa",), "Table 15", ("copa",)),
    EvaluationTask("dev", "COPA CommonSense", "superni", "Cause Effect Classification", FULLY_HELD_OUT, ROUGE_L, ("copa",), "Table 15",
                   ("task827_copa_commonsense_reasoning", "task828_copa_commonsense_cause_effect")),
    EvaluationTask("dev", "Glucose", "superni", "Cause Effect Classification", FULLY_HELD_OUT, ROUGE_L, ("glucose",), "Table 15",
                   ("task614_glucose_cause_event_detection",)),
    EvaluationTask("dev", "Jfleg", "superni", "Grammar Error Correction", FULLY_HELD_OUT, ROUGE_L, ("jfleg",), "Table 15",
                   ("task1557_jfleg_answer_generation",)),
    EvaluationTask("dev", "MMLU (57 subtasks)", "mmlu", "MMLU", PARTIALLY_HELD_OUT, ACCURACY,
                   ("measuring_massive_multitask_language_understanding",), "Table 15"),
    EvaluationTask("dev", "Civil Comments", "superni", "Toxic Language Detection", PARTIALLY_HELD_OUT, ROUGE_L, ("civil_comments",),
                   "Table 15", _CIVIL_COMMENTS),
    EvaluationTask("dev", "Jigsaw", "promptsource", "Toxic Language Detection", PARTIALLY_HELD_OUT, ROUGE_L, ("jigsaw",), "Table 15",
                   ("jigsaw_unintended_bias",)),
    EvaluationTask("dev", "Newsroom", "flan", "Summarization", PARTIALLY_HELD_OUT, ROUGE_L, ("newsroom",), "Table 15", ("newsroom",)),
    # race/all holds the rows of race/high and race/middle, which the shared source holds out.
    EvaluationTask("dev", "Race", "promptsource", "Question Answering", PARTIALLY_HELD_OUT, ACCURACY, ("race",), "Table 15",
                   ("race/all",)),
    EvaluationTask("dev", "Race", "superni", "Question Answering", PARTIALLY_HELD_OUT, ROUGE_L, ("race",), "Table 15",
                   ("task309_race_answer_generation", "task310_race_classification")),
    EvaluationTask("dev", "StrategyQA", "reasoning", "Reasoning", PARTIALLY_HELD_OUT, ROUGE_L, ("strategyqa",), "Table 15",
                   ("strategyqa",)),
    EvaluationTask("dev", "GSM8K", "reasoning", "Reasoning", PARTIALLY_HELD_OUT, ROUGE_L, ("gsm8k",), "Table 15", ("gsm8k",)),
    EvaluationTask("dev", "SQuAD v1", "flan", "Question Answering", FULLY_SUPERVISED, ROUGE_L, ("squad_1.1",), "Table 15",
                   ("squad_v1",)),
    EvaluationTask("dev", "SQuAD v1", "promptsource", "Question Answering", FULLY_SUPERVISED, ROUGE_L, ("squad_1.1",), "Table 15",
                   ("squad",)),
    EvaluationTask("dev", "Blended Skill Talk", "promptsource", "Dialogue Generation", FULLY_SUPERVISED, ROUGE_L,
                   ("blended_skill_talk",), "Table 15", ("blended_skill_talk",)),
    EvaluationTask("dev", "CNNDM", "promptsource", "Summarization", FULLY_SUPERVISED, ROUGE_L, ("cnn_dailymail",), "Table 15",
                   ("cnn_dailymail/3.0.0",)),
)

# Categories no training task may come from.
DEV_FULLY_HELD_OUT_CATEGORIES = frozenset(t.category for t in DEV_SPLIT if t.level == FULLY_HELD_OUT)
TEST_FULLY_HELD_OUT_CATEGORIES = frozenset({"Textual Entailment", "Coreference Resolution", "Dialogue Act Recognition"})


def _test(name, benchmark, category, level, metric, sources, evidence, members=()) -> EvaluationTask:
    return EvaluationTask("test", name, benchmark, category, level, metric, sources, evidence, tuple(members))


_NLI = "Textual Entailment"
_COREF = "Coreference Resolution"
_QA = "Question Answering"
# FLAN's and PromptSource's member task of each test row both benchmarks evaluate.
_MEMBERS = {
    "ANLI R1": ("anli_r1", "anli_r1"), "ANLI R2": ("anli_r2", "anli_r2"), "ANLI R3": ("anli_r3", "anli_r3"),
    "CB": ("cb", "super_glue/cb"), "RTE": ("rte", "super_glue/rte"), "Winogrande": ("winogrande", "winogrande/winogrande_xl"),
    "WSC": ("wsc", "super_glue/wsc.fixed"),
}
_BENCHMARK_INDEX = {"flan": 0, "promptsource": 1}
# Test tasks of the other benchmarks, as far as the paper states them. SuperNI's test tasks are
# its official test tasks in TEST_FULLY_HELD_OUT_CATEGORIES (built in optiml_jax.tasks.superni).
TEST_SPLIT = (
    *(_test(f"ANLI {r}", b, _NLI, FULLY_HELD_OUT, ACCURACY, ("anli",), s, (_MEMBERS[f"ANLI {r}"][_BENCHMARK_INDEX[b]],))
      for b, s in (("flan", "§5.3"), ("promptsource", "§5.2")) for r in ("R1", "R2", "R3")),
    *(_test("CB", b, _NLI, FULLY_HELD_OUT, ACCURACY, ("cb",), s, (_MEMBERS["CB"][_BENCHMARK_INDEX[b]],))
      for b, s in (("flan", "§5.3"), ("promptsource", "§5.2"))),
    *(_test("RTE", b, _NLI, FULLY_HELD_OUT, ACCURACY, ("rte",), s, (_MEMBERS["RTE"][_BENCHMARK_INDEX[b]],))
      for b, s in (("flan", "§5.3"), ("promptsource", "§5.2"))),
    _test("MNLI-m", "flan", _NLI, FULLY_HELD_OUT, ACCURACY, ("multinli",), "§5.3", ("mnli_matched",)),
    _test("MNLI-mm", "flan", _NLI, FULLY_HELD_OUT, ACCURACY, ("multinli",), "§5.3", ("mnli_mismatched",)),
    _test("SNLI", "flan", _NLI, FULLY_HELD_OUT, ACCURACY, ("snli", "e_snli"), "§5.3", ("snli",)),
    _test("WNLI", "flan", _NLI, FULLY_HELD_OUT, ACCURACY, ("wnli",), "§5.3", ("wnli",)),
    *(_test("Winogrande", b, _COREF, FULLY_HELD_OUT, ACCURACY, ("winogrande",), s, (_MEMBERS["Winogrande"][_BENCHMARK_INDEX[b]],))
      for b, s in (("flan", "§5.3"), ("promptsource", "§5.2"))),
    *(_test("WSC", b, _COREF, FULLY_HELD_OUT, ACCURACY, _WSC_SOURCES, s, (_MEMBERS["WSC"][_BENCHMARK_INDEX[b]],))
      for b, s in (("flan", "§5.3"), ("promptsource", "§5.2"))),
    *(_test(name, "flan", _QA, PARTIALLY_HELD_OUT, ACCURACY, sources, "§5.3", (member,))
      for name, sources, member in (("BoolQ", ("boolq",), "bool_q"), ("OpenBookQA", ("openbookqa",), "openbookqa"),
                                    ("ARC-Easy", ("arc",), "arc_easy"), ("ARC-Challenge", ("arc",), "arc_challenge"))),
    _test("StoryCloze", "promptsource", "Sentence Completion", FULLY_HELD_OUT, ACCURACY, ("roc_stories",), "§5.2; category inferred",
          ("story_cloze/2016",)),
    # SuperNI names WiC's data only through XL-WiC, which contains it; FLAN and PromptSource say "wic".
    _test("WiC", "promptsource", "Word Sense Disambiguation", FULLY_HELD_OUT, ACCURACY, ("xl_wic", "wic"),
          "§5.2; category inferred",
          ("super_glue/wic",)),
    # SuperGLUE's AX-g diagnostic is the WinoGender schemas cast as entailment (§5.2).
    _test("WinoGender", "promptsource", NOT_STATED, PARTIALLY_HELD_OUT, ACCURACY, ("winomt",), "§5.2: not from held-out clusters",
          ("super_glue/axg",)),
    _test("Crows-Pairs", "promptsource", NOT_STATED, PARTIALLY_HELD_OUT, ACCURACY, ("crows_pairs",), "§5.2: not from held-out clusters",
          ("crows_pairs",)),
    # DART's annotations include E2E's and WebNLG's sentences for their own inputs (4,290 of its
    # 6,980 dev annotations come from E2E), so those sources are DART's too (§2.3).
    _test("DART", "unifiedskg", "Data to Text", PARTIALLY_HELD_OUT, ROUGE_L, ("dart", "e2e", "web_nlg"),
          "§5.5; level inferred", ("dart",)),
    _test("MultiWoZ", "unifiedskg", "Dialogue State Tracking", PARTIALLY_HELD_OUT, ROUGE_L, ("multi_woz_v22",), "§5.5; level decided",
          ("multiwoz",)),
    _test("Spider", "unifiedskg", "Text to Code", FULLY_SUPERVISED, ROUGE_L, (), "§5.5", ("spider",)),
    _test("PIQA", "opt", _QA, PARTIALLY_HELD_OUT, ACCURACY, ("piqa",), "§5.1; level inferred"),
    _test("MultiRC", "opt", _QA, PARTIALLY_HELD_OUT, ACCURACY, ("multirc",), "§5.1; level inferred"),
    _test("Winograd", "opt", _COREF, FULLY_HELD_OUT, ACCURACY, _WSC_SOURCES, "§5.1"),
)

EVALUATION_TASKS = DEV_SPLIT + TEST_SPLIT

_ROWS_BY_MEMBER = {(row.benchmark, member): row for row in EVALUATION_TASKS for member in row.members}


def evaluation_row(benchmark: str, task: str) -> EvaluationTask | None:
    """The row a catalog task belongs to (e.g. `task1154_bard_…` → Bard Analogical Reasoning), if
    any. Evaluation aggregates a row's member tasks into one task score (§4.1)."""
    return _ROWS_BY_MEMBER.get((benchmark, task))
