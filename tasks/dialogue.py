"""Dialogue data of the §4.7 ablation (`dialogue_catalog.tsv`), outside the default mixtures.

The paper mixes 0.5% BlenderBot 3 dialogue data (Wizard of Internet, Wizard of Wikipedia, Blended
Skill Talk, ConvAI2, Multi-Session Chat, LIGHT + Wild; 320,543 dialogues) into its baseline and
finds it hurts output-format compliance, so the final models train without it. Here those sets,
plus the local Schema-Guided Dialogue and BANKING77 samples, form the `dialogue` benchmark: it has
its own training mixture (`opt_iml_dialogue_train`) and the ablation mixtures below, and stays out
of `opt_iml_train` and `opt_iml_max_train`.

**The dialogue share** (`register_dialogue_mixtures`), chosen by mixture name, so the native
trainer and t5x pick it the same way (`MIXTURE_OR_TASK_NAME`) and the run's gin config records it:
- `opt_iml_train_with_dialogue_<percent>pct` (`0.5pct`, `1pct`, `2pct`, `5pct`): `opt_iml_train`
  with that share of dialogue examples, the other benchmarks keeping their relative shares;
- `opt_iml_train_with_dialogue`: the share `$OPTIML_DIALOGUE_SHARE` (a fraction in (0, 1); default
  §4.7's 0.005), which also registers under its `<percent>pct` name. The setting is read once, at
  `import optiml_jax.tasks`, so every host of a run must see the same value.

Data under `$OPTIML_DIALOGUE_DIR`: `<task>/train.txt` in ParlAI's text format for the BlenderBot 3
sets (`parlai display_data -t <teacher> -dt train` writes it), `sgd/train/dialogues_*.json`,
`banking77/train.csv` with `banking77/categories.json`. Counts: each set's training dialogues as
its paper or release reports them (column `reason`).
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os

from optiml_jax.data import paths
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs, load_packaged_catalog
from optiml_jax.tasks.registration import RegistrationReport, register_ablation_mixture

BENCHMARK = "dialogue"
CATALOG_FILE = "dialogue_catalog.tsv"
SHARE_SETTING = "OPTIML_DIALOGUE_SHARE"
PAPER_SHARE = 0.005  # §4.7: 0.5% dialogue data.
NAMED_SHARES = (PAPER_SHARE, 0.01, 0.02, 0.05)  # Registered by name: a sweep needs no setting.


@dataclasses.dataclass(frozen=True)
class DialogueSet:
    name: str
    category: str
    source: str
    num_examples: int
    count_source: str
    reader: str


SETS = (
    DialogueSet("banking77", "Intent Identification", "banking77", 10003, "hf-datasets@d7dfbc8 banking77 train", "banking77"),
    DialogueSet("blended_skill_talk", "Dialogue Generation", "blended_skill_talk", 4819,
                "hf-datasets@d7dfbc8 blended_skill_talk train", "parlai"),
    DialogueSet("convai2", "Dialogue Generation", "convai2", 17878, "ConvAI2 training dialogues (Dinan et al. 2019)", "parlai"),
    DialogueSet("light", "Dialogue Generation", "light", 8538, "LIGHT training episodes (Urbanek et al. 2019)", "parlai"),
    DialogueSet("msc", "Dialogue Generation", "msc", 9001, "Multi-Session Chat sessions 2-4 training episodes (Xu et al. 2021)",
                "parlai"),
    DialogueSet("sgd", "Dialogue Generation", "sgd", 16142, "hf-datasets@d7dfbc8 schema_guided_dstc8 train dialogues", "sgd"),
    DialogueSet("wizard_of_internet", "Dialogue Generation", "wizard_of_internet", 8614,
                "Wizard of Internet training dialogues (Komeili et al. 2021)", "parlai"),
    DialogueSet("wizard_of_wikipedia", "Dialogue Generation", "wizard_of_wikipedia", 18430,
                "Wizard of Wikipedia training dialogues (Dinan et al. 2019)", "parlai"),
)
_BY_NAME = {s.name: s for s in SETS}


def build_catalog() -> list[CatalogEntry]:
    eval_sources = splits.held_out_sources()
    entries = []
    for item in SETS:
        category, split, level, reason = splits.assign(item.category, item.source, None, eval_sources)
        entries.append(CatalogEntry(BENCHMARK, item.name, category, category, item.source, "", item.num_examples,
                                    split, level, f"{reason}; count: {item.count_source}"))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def dialogue_benchmark(entries: list[CatalogEntry] | None = None, folder: str | None = None) -> BenchmarkCatalog:
    folder = folder or paths.data_setting("OPTIML_DIALOGUE_DIR", "dialogue")

    def inputs(entry: CatalogEntry) -> TaskInputs:
        reader = _BY_NAME[entry.name].reader
        location = None
        if folder and reader == "parlai" and os.path.isfile(os.path.join(folder, entry.name, "train.txt")):
            location = Location(reader, os.path.join(folder, entry.name, "train.txt"))
        elif folder and reader == "sgd":
            files = tuple(sorted(glob.glob(os.path.join(folder, "sgd", "train", "dialogues_*.json"))))
            location = Location(reader, files[0], (("files", files),)) if files else None
        elif folder and reader == "banking77":
            train, categories = (os.path.join(folder, "banking77", f) for f in ("train.csv", "categories.json"))
            if os.path.isfile(train) and os.path.isfile(categories):
                location = Location(reader, train, (("categories", categories),))
        return TaskInputs(location, None, ())

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), inputs,
                            lambda entry, variants: None, in_default_mixtures=False)


def configured_share() -> float:
    """`$OPTIML_DIALOGUE_SHARE` as a fraction in (0, 1); §4.7's 0.005 when unset."""
    text = os.environ.get(SHARE_SETTING, "").strip()
    if not text:
        return PAPER_SHARE
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not 0.0 < share < 1.0:  # Also refuses nan and inf.
        raise ValueError(f"{SHARE_SETTING}={text!r}: the dialogue share of opt_iml_train_with_dialogue must be a "
                         f"fraction strictly between 0 and 1 (0.005 is §4.7's 0.5%); fix or unset the setting.")
    return share


def share_mixture_name(namespace: str, share: float) -> str:
    """The ablation mixture named by its share: 0.005 → `opt_iml_train_with_dialogue_0.5pct`."""
    percent = f"{100 * share:.10f}".rstrip("0").rstrip(".")  # No exponent: SeqIO names cannot hold "-".
    return f"{namespace}_train_with_dialogue_{percent}pct"


def register_dialogue_mixtures(report: RegistrationReport, share: float) -> list[str]:
    """Registers the ablation mixtures of the module docstring, `share` being the configured one;
    returns the names registered (none without local dialogue data: the report lists them empty)."""
    base = f"{report.namespace}_train"
    wanted = [(f"{base}_with_dialogue", share)]
    wanted += [(share_mixture_name(report.namespace, s), s) for s in sorted({*NAMED_SHARES, share})]
    registered = [register_ablation_mixture(report, name, base, BENCHMARK, each) for name, each in wanted]
    return [name for name in registered if name]
