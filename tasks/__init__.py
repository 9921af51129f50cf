"""OPT-IML Bench: `import optiml_jax.tasks` registers every benchmark catalog (idempotently).

Registered: one task per catalog task (plus 0/2/5-shot evaluation variants of dev and test tasks,
one per template for PromptSource and FLAN), the OPT-IML training mixture `opt_iml_train`,
`opt_iml_max_train`, one training mixture per benchmark, the §4.7 ablation mixtures
`opt_iml_train_with_dialogue` (dialogue share `$OPTIML_DIALOGUE_SHARE`, default 0.5%) and
`opt_iml_train_with_dialogue_<percent>pct` (`dialogue.py`), and one evaluation mixture per split,
level and shot count (per benchmark and across benchmarks), in our registry
(`optiml_jax.data.registry`, read by `PackedBatchStream`) and in SeqIO (for t5x). `REPORT` says
what was registered, what was left out for want of local data and how the training rates were
obtained; `python -m optiml_jax.tasks stats` prints it.

Catalog files, one per benchmark: `superni.py` + `superni_catalog.tsv`, `promptsource.py` +
`promptsource_catalog.tsv` (+ `promptsource_datasets.tsv`), `flan.py` + `flan_catalog.tsv`,
`reasoning.py` + `reasoning_catalog.tsv`, `dialogue.py` + `dialogue_catalog.tsv`; the evaluation
splits of every benchmark are in `levels.py`, the split rules in `splits.py`. docs/benchmark.md
explains every decision.
"""

from optiml_jax.tasks.dialogue import configured_share, dialogue_benchmark, register_dialogue_mixtures
from optiml_jax.tasks.flan import flan_benchmark
from optiml_jax.tasks.promptsource import promptsource_benchmark
from optiml_jax.tasks.reasoning import reasoning_benchmark
from optiml_jax.tasks.registration import register_catalogs
from optiml_jax.tasks.superni import superni_benchmark


def benchmarks():
    """Every benchmark catalog with its local data, in registration order."""
    return [superni_benchmark(), promptsource_benchmark(), flan_benchmark(), reasoning_benchmark(), dialogue_benchmark()]


DIALOGUE_SHARE = configured_share()  # Read first: a bad setting fails before any registration.
REPORT = register_catalogs(benchmarks())
DIALOGUE_MIXTURES = register_dialogue_mixtures(REPORT, DIALOGUE_SHARE)
