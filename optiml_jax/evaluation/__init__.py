"""Evaluation on OPT-IML Bench: generation and rank classification → the three-level report.

Modules (each importable on its own; this package imports none of them, so the SeqIO task
registration can use the metric functions without loading the evaluator):
- `metrics`: SuperNI's exact match and ROUGE-L, t5's `rank_classification` metric, Tk-Instruct's
  headline metric per category;
- `preprocessors` / `postprocessors`: t5's `rank_classification` pair, the references postprocessor;
- `inference`: `InferenceEngine`, bucketed and mesh-sharded scoring and greedy generation;
- `runner`: evaluating registered tasks (`evaluate_tasks`, `evaluation_tasks`, `TaskResult`);
- `aggregation`: task scores → the paper's cells (§4.1); `report`: report.md and plots;
- `outputs`: the resumable output folder; `seqio_evaluation`: our model under `seqio.Evaluator`;
- `train_hook`: in-training evaluation for the native trainer.
The command line is `python -m optiml_jax.eval` (`optiml_jax/eval.py`).
"""
