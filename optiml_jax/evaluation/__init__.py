"""Evaluation on OPT-IML Bench: generation and rank classification → the three-level report.

Modules (each importable on its own; this package imports none of them, so the SeqIO task
registration can use the metric functions without loading the evaluator):
- `metrics`: SuperNI's exact match and ROUGE-L, t5's `rank_classification` metric, Tk-Instruct's
  headline metric per category;
- `answer_options`: an example's answer options as rank-classification rows (the one rule);
  `postprocessors`: t5's `rank_classification` postprocessor, the references postprocessor;
- `inference`: `InferenceEngine`, bucketed and mesh-sharded scoring and greedy generation;
- `placement`: the mesh and dtype a model is evaluated in (weights resident: tensor parallelism
  only as far as the model needs);
- `runner`: evaluating registered tasks (`evaluate_tasks`, `evaluation_tasks`, `TaskResult`);
- `aggregation`: task scores → the paper's cells (§4.1); `report`: report.md and plots;
- `outputs`: the resumable output folder;
- `train_hook`: in-training evaluation for the native trainer.
The command line is `python -m optiml_jax.eval` (`optiml_jax/eval.py`). Layering: this package
reads tasks from our registry (`optiml_jax.data`) and never imports the catalog
(`optiml_jax.tasks`), TensorFlow or SeqIO; the SeqIO side (`optiml_jax.seqio_preprocessors`,
`optiml_jax.seqio_evaluation`) sits beside it in the SeqIO adapter.
"""
