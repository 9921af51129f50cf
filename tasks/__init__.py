"""OPT-IML Bench: `import optiml_jax.tasks` registers every benchmark catalog (idempotently).

Registered: one task per catalog task (plus 0/2/5-shot evaluation variants of dev and test tasks,
one per template for PromptSource and FLAN), the OPT-IML training mixture `opt_iml_train`,
`opt_iml_max_train`, one training mixture per benchmark, the §4.7 ablation mixtures
`opt_iml_train_with_dialogue` (dialogue share `$OPTIML_DIALOGUE_SHARE`, default 0.5%) and
`opt_iml_train_with_dialogue_<percent>pct` (`dialogue.py`), and one evaluation mixture per split,
level and shot count (per benchmark and across benchmarks), in our registry
(`optiml_jax.data.registry`, read by `PackedBatchStream` and the evaluator). `REPORT` says what
was registered, what was left out for want of local data and how the training rates were
obtained; `python -m optiml_jax.tasks stats` prints it. Importing the catalog loads neither
TensorFlow nor SeqIO; t5x users `import optiml_jax.seqio_tasks`, which imports this package and
mirrors `REPORT`'s tasks and mixtures into SeqIO.

Catalog files, one per benchmark: `superni.py` + `superni_catalog.tsv`, `promptsource.py` +
`promptsource_catalog.tsv` (+ `promptsource_datasets.tsv`), `crossfit.py` + `crossfit_catalog.tsv`
(+ `crossfit_tasks.tsv`), `flan.py` + `flan_catalog.tsv`, `exmix.py` + `exmix_catalog.tsv`, `t5.py` +
`t5_catalog.tsv`, `unifiedskg.py` + `unifiedskg_catalog.tsv`,
`reasoning.py` + `reasoning_catalog.tsv`, `dialogue.py` + `dialogue_catalog.tsv`, `pretraining.py`
(§4.5's pre-training text), `user.py` (your own tasks); `decontamination.py` applies
`decontamination_decisions.tsv`; the evaluation
splits of every benchmark are in `levels.py`, the split rules in `splits.py`. docs/benchmark.md
explains every decision.
"""

from optiml_jax.data.mixing import PAPER_BENCHMARK_PROPORTIONS
from optiml_jax.tasks.crossfit import crossfit_benchmark
from optiml_jax.tasks.decontamination import apply_decisions, load_decisions
from optiml_jax.tasks.dialogue import configured_share, dialogue_benchmark, register_dialogue_mixtures
from optiml_jax.tasks.exmix import exmix_benchmark
from optiml_jax.tasks.flan import flan_benchmark
from optiml_jax.tasks.pretraining import pretraining_benchmark
from optiml_jax.tasks.promptsource import promptsource_benchmark
from optiml_jax.tasks.reasoning import reasoning_benchmark
from optiml_jax.tasks.registration import register_catalogs
from optiml_jax.tasks.superni import superni_benchmark
from optiml_jax.tasks.t5 import t5_benchmark
from optiml_jax.tasks.unifiedskg import unifiedskg_benchmark
from optiml_jax.tasks.user import user_benchmarks, user_proportions


def benchmarks():
    """Every benchmark catalog with its local data, in registration order: the paper's, then the
    user's own (`$OPTIML_USER_TASKS`), with the decontamination decisions applied."""
    paper = [superni_benchmark(), promptsource_benchmark(), crossfit_benchmark(), flan_benchmark(), exmix_benchmark(),
             t5_benchmark(), unifiedskg_benchmark(), reasoning_benchmark(), pretraining_benchmark(), dialogue_benchmark()]
    known = {f"{e.benchmark}:{e.name}" for catalog in paper for e in catalog.entries}
    trained = {e.category for catalog in paper if catalog.in_default_mixtures for e in catalog.entries if e.trains}
    return apply_decisions(paper + user_benchmarks(known, trained_categories=trained), load_decisions())


DIALOGUE_SHARE = configured_share()  # Read first: a bad setting fails before any registration.
CATALOGS = benchmarks()
REPORT = register_catalogs(CATALOGS, proportions=user_proportions(CATALOGS, PAPER_BENCHMARK_PROPORTIONS))
DIALOGUE_MIXTURES = register_dialogue_mixtures(REPORT, DIALOGUE_SHARE)
