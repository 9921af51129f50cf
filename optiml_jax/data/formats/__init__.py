"""One reader per source format; each maps a path (plus keyword arguments) to
`optiml_jax.data.examples.TaskData`: `READERS[key](path, name, **args)`."""

from optiml_jax.data.formats.cot import read_cot_tsv_task, read_gsm8k_task
from optiml_jax.data.formats.crossfit import read_crossfit_task
from optiml_jax.data.formats.custom import read_custom_task
from optiml_jax.data.formats.dialogue import read_banking77_task, read_parlai_task, read_sgd_task
from optiml_jax.data.formats.exmix import (read_exmix_csv_task, read_exmix_jsonl_task, read_exmix_parallel_task,
                                          read_exmix_tfds_task, read_exmix_tsv_task)
from optiml_jax.data.formats.flan import read_flan_task
from optiml_jax.data.formats.pretraining import read_pretraining_task
from optiml_jax.data.formats.promptsource import read_p3_task, read_promptsource_task
from optiml_jax.data.formats.superni import read_superni_task
from optiml_jax.data.formats.t5 import read_t5_task
from optiml_jax.data.formats.unifiedskg import read_dart_task, read_unifiedskg_task

READERS = {
    "superni": read_superni_task,
    "flan": read_flan_task,
    "promptsource": read_promptsource_task,
    "p3": read_p3_task,
    "cot_tsv": read_cot_tsv_task,
    "gsm8k": read_gsm8k_task,
    "parlai": read_parlai_task,
    "sgd": read_sgd_task,
    "banking77": read_banking77_task,
    "crossfit": read_crossfit_task,
    "unifiedskg": read_unifiedskg_task,
    "dart": read_dart_task,
    "t5": read_t5_task,
    "exmix_tsv": read_exmix_tsv_task,
    "exmix_csv": read_exmix_csv_task,
    "exmix_jsonl": read_exmix_jsonl_task,
    "exmix_parallel": read_exmix_parallel_task,
    "exmix_tfds": read_exmix_tfds_task,
    "pretraining": read_pretraining_task,
    "custom": read_custom_task,
}
