"""The OPT-IML Bench in SeqIO, for t5x: `import optiml_jax.seqio_tasks` (the SeqIO adapter).

Importing this module registers the bench in our registry (`import optiml_jax.tasks`) and mirrors
every task and mixture registered there into SeqIO's registries (`MIXTURE_OR_TASK_NAME`): the
paper's catalogs, your own tasks (`OPTIML_USER_TASKS`) and the dialogue ablation mixtures. Tasks
and mixtures you register later with `optiml_jax.tasks.registration` reach SeqIO through
`register_in_seqio(report.tasks, report.mixtures)`. t5x's run files import it
(`gin/opt_iml_t5x_model.gin`); the native trainer and evaluator never do, so they run without
TensorFlow and SeqIO.

Each task becomes a `seqio.Task` over a `FunctionDataSource` whose examples are rendered and
tokenized in Python by `TaskReader` (the same code the packed stream uses) before they enter TF,
so the tf.data iterator stays saveable. Features:
- `inputs`: ids(source); `targets`: ids(" " + target) + EOS (via `append_eos_after_trim`);
- `inputs_pretokenized`, `targets_pretokenized`: the text; `references`: every reference output;
- `example_index`: the example's position in its task, fixed before SeqIO splits examples across
  hosts (rank classification numbers examples with it);
- `options`, `option_targets`, `option_is_correct`: for tasks evaluated by rank classification,
  the answer options, each as the target it is scored as and whether it is correct
  (`optiml_jax.evaluation.answer_options`, the rule our evaluator uses).
Feed them to t5x's `DecoderOnlyModel` with `seqio.DecoderFeatureConverter(bos_id=2)` (PrefixLM):
the result equals our packed rows, example by example. Over-long sources are left-truncated, as
OPT-IML does, to the `inputs` length (the packed stream truncates against the whole row, t5x
budgets `inputs` and `targets` separately).

Evaluation tasks carry their metrics, so `seqio.Evaluator` (t5x's `train_eval` / `infer_eval`)
runs them: generation tasks score predictions with SuperNI's exact match and ROUGE-L against all
references; rank-classification tasks expand into one example per option with the `t5`-style
`rank_classification` preprocessor (`optiml_jax.seqio_preprocessors`, then tokenized by SeqIO)
and are scored with its postprocessor and metric (`optiml_jax.evaluation`).

Mixtures get numeric rates only (no callables: SeqIO recomputes callable rates O(N²)). Task
shuffle buffers are small (128): thousands of per-task buffers of long examples would not fit in
host memory. Registration is idempotent: names already in SeqIO's registries are left alone.
"""

from __future__ import annotations

import functools
from typing import Sequence

import seqio
import tensorflow as tf

import optiml_jax.tasks as bench
from optiml_jax import seqio_preprocessors
from optiml_jax.constants import ACCURACY
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.task_reader import TaskReader, default_vocabulary, encode_source_target
from optiml_jax.evaluation import answer_options, metrics, postprocessors
from optiml_jax.vocab import OPTVocabulary

SHUFFLE_BUFFER_SIZE = 128


def task_dataset(task_name: str, split: str, shuffle_files: bool = False, seed: int | None = None) -> tf.data.Dataset:
    """All examples of a registered task, in file order, as SeqIO features (see module docstring)."""
    del shuffle_files, seed  # One file per task; SeqIO shuffles examples with the task's buffer.
    spec = registry.get_task(task_name)
    if split != spec.split:
        raise ValueError(f"task {task_name}: it has only the {spec.split!r} split, not {split!r}.")
    reader = TaskReader(spec, ExampleStore())
    rendered = reader.render(range(len(reader)))
    encoded = encode_source_target(default_vocabulary(), [(r.source, r.target) for r in rendered])
    features = {
        "inputs": tf.ragged.constant([source for source, _ in encoded], dtype=tf.int32, ragged_rank=1),
        "targets": tf.ragged.constant([target for _, target in encoded], dtype=tf.int32, ragged_rank=1),
        "inputs_pretokenized": tf.constant([r.source for r in rendered]),
        "targets_pretokenized": tf.constant([r.target for r in rendered]),
        "references": tf.ragged.constant([list(r.references) for r in rendered], dtype=tf.string),
        seqio_preprocessors.EXAMPLE_INDEX: tf.range(len(rendered), dtype=tf.int32),
    }
    if spec.metric == ACCURACY:
        answer_options.check_options(spec, rendered)
        scored = [answer_options.option_targets(r.options, r.references) for r in rendered]
        features["options"] = tf.ragged.constant([list(r.options) for r in rendered], dtype=tf.string)
        features["option_targets"] = tf.ragged.constant([[t for t, _ in options] for options in scored],
                                                        dtype=tf.string)
        features["option_is_correct"] = tf.ragged.constant([[c for _, c in options] for options in scored],
                                                           dtype=tf.bool)
    return tf.data.Dataset.from_tensor_slices(features)


def left_truncate_inputs(dataset: tf.data.Dataset,
                         sequence_length: dict[str, int] | None = None) -> tf.data.Dataset:
    """Keeps the end of over-long `inputs`: the instance and the output delimiter survive.

    SeqIO's own trimming keeps the beginning, which would cut the delimiter off long prompts.
    """
    limit = (sequence_length or {}).get("inputs")
    if limit is None:
        return dataset

    def trim(example):
        return {**example, "inputs": example["inputs"][-limit:]}

    return dataset.map(trim, num_parallel_calls=tf.data.AUTOTUNE)


def _evaluation(spec: registry.TaskSpec) -> dict:
    """Preprocessors, postprocessor and metric fns of a task (none but truncation and EOS for
    training tasks). Left truncation runs on token ids, so after SeqIO tokenizes option rows."""
    trim = [left_truncate_inputs, seqio.preprocessors.append_eos_after_trim]
    if spec.metric == ACCURACY:
        return dict(preprocessors=[seqio_preprocessors.option_rows, seqio.preprocessors.tokenize, *trim],
                    postprocess_fn=postprocessors.rank_classification, metric_fns=[metrics.rank_classification])
    if spec.metric:
        return dict(preprocessors=trim, postprocess_fn=postprocessors.references,
                    metric_fns=[metrics.generation_metrics])
    return dict(preprocessors=trim)


@functools.lru_cache(maxsize=None)
def seqio_vocabulary() -> OPTVocabulary:
    """The SeqIO face of `default_vocabulary()`: the same tokenizer files."""
    return OPTVocabulary()


def _output_features() -> dict[str, seqio.Feature]:
    vocabulary = seqio_vocabulary()
    return {
        "inputs": seqio.Feature(vocabulary, add_eos=False),
        "targets": seqio.Feature(vocabulary, add_eos=True),
    }


def register_in_seqio(task_names: Sequence[str], mixture_names: Sequence[str]) -> None:
    """Adds the named registry tasks and mixtures to SeqIO's registries (skipping existing names)."""
    existing_tasks = set(seqio.TaskRegistry.names())
    output_features = _output_features()
    for name in task_names:
        if name in existing_tasks:
            continue
        spec = registry.get_task(name)
        seqio.TaskRegistry.add(
            name,
            source=seqio.FunctionDataSource(
                dataset_fn=functools.partial(task_dataset, name),
                splits=[spec.split],
                num_input_examples={spec.split: spec.num_examples},
            ),
            output_features=output_features,
            shuffle_buffer_size=SHUFFLE_BUFFER_SIZE,
            **_evaluation(spec),
        )
    existing_mixtures = set(seqio.MixtureRegistry.names())
    for name in mixture_names:
        if name not in existing_mixtures:
            seqio.MixtureRegistry.add(name, list(registry.get_mixture(name).rates))


# The bench's report lists every task and mixture `import optiml_jax.tasks` registered, the
# dialogue ablation mixtures included.
register_in_seqio(bench.REPORT.tasks, bench.REPORT.mixtures)
