"""One reader per source format; each maps a path (plus keyword arguments) to
`optiml_jax.data.examples.TaskData`: `READERS[key](path, name, **args)`."""

from optiml_jax.data.formats.cot import read_cot_tsv_task, read_gsm8k_task
from optiml_jax.data.formats.dialogue import read_banking77_task, read_parlai_task, read_sgd_task
from optiml_jax.data.formats.flan import read_flan_task
from optiml_jax.data.formats.promptsource import read_p3_task, read_promptsource_task
from optiml_jax.data.formats.superni import read_superni_task

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
}
