"""OPT-IML Bench: `import optiml_jax.tasks` registers every benchmark catalog (idempotently).

Registered: one task per catalog task (plus 0/2/5-shot evaluation variants of dev and test tasks),
the OPT-IML training mixture `opt_iml_train`, `opt_iml_max_train`, one training mixture per
benchmark and one evaluation mixture per split, level and shot count (per benchmark and across
benchmarks), in our registry (`optiml_jax.data.registry`, read by `PackedBatchStream`) and in
SeqIO (for t5x). `REPORT` says what was registered, what was left out for want of local data and
how the training rates were obtained; `python -m optiml_jax.tasks stats` prints it.

Catalog files: `superni.py` + `superni_catalog.tsv` (Super-NaturalInstructions); the evaluation
split of every benchmark is in `levels.py`. docs/benchmark.md explains every decision.
"""

from optiml_jax.tasks.registration import register_catalogs
from optiml_jax.tasks.superni import superni_benchmark

REPORT = register_catalogs([superni_benchmark()])
