"""One reader per source format; each maps a file path to `optiml_jax.data.examples.TaskData`."""

from optiml_jax.data.formats.superni import read_superni_task

READERS = {"superni": read_superni_task}
