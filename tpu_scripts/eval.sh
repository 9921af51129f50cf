#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Evaluates checkpoints on a TPU VM, writing the log to ~/optiml_jax.log (follow it with logs.sh).
#   tpu_scripts/eval.sh --name NAME --zone ZONE --accelerator v4-8 [--evaluator optiml|t5x]
#     [--model_gin gin/models/opt_30b.gin] [--project P] [--dry-run] -- ARGS...
# optiml (default): `python -m optiml_jax.eval ARGS` (e.g. --checkpoint gs://bucket/run --split dev
# --shots 0,5 --out gs://...), a single process, so on a single-host slice (v4-8, v5p-8,
# v5litepod-8, v6e-8). t5x: `python -m t5x.eval --gin_file=MODEL_GIN --gin_file=gin/opt_iml_eval.gin
# ARGS` (e.g. --gin.CHECKPOINT_PATH=\"...\" --gin.EVAL_OUTPUT_DIR=\"...\") on every worker.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_flags "name zone project accelerator evaluator model_gin" "dry-run" "$@"
require name zone accelerator
EVALUATOR=${EVALUATOR:-optiml}
count=$(workers "$ACCELERATOR")
launch="cd $REMOTE_REPO && OPTIML_DATA_DIR=\$HOME/$REMOTE_DATA nohup ../$REMOTE_VENV/bin/python"
case $EVALUATOR in
  optiml)
    ((count == 1)) || die "python -m optiml_jax.eval runs as one process: use a single-host slice" \
      "(v4-8, v5p-8, v5litepod-8, v6e-8) or --evaluator t5x; $ACCELERATOR has $count workers"
    on_worker 0 "$launch $(quote -m optiml_jax.eval "${EXTRA_ARGS[@]}") > \$HOME/$REMOTE_LOG 2>&1 &"
    ;;
  t5x)
    require model_gin
    arguments=$(quote -m t5x.eval --gin_file="$MODEL_GIN" --gin_file=gin/opt_iml_eval.gin "${EXTRA_ARGS[@]}")
    on_worker all "$launch $arguments > \$HOME/$REMOTE_LOG 2>&1 &"
    ;;
  *) die "--evaluator $EVALUATOR: choose optiml or t5x" ;;
esac
