#!/usr/bin/env bash
# The whole t5x path with real t5x from a checkout (read-only; nothing of it enters this repository),
# on an 8-device CPU mesh, with the README's commands:
#   1. a random tiny HF OPT, converted with `python -m optiml_jax.convert hf` (default layout);
#   2. `python -m t5x.train --gin_file=gin/opt_iml_tiny.gin` from it: every parameter restored
#      (no "Not restoring param=target/..." line), t5x's checkpoint_0 params equal to the
#      converted ones, the last checkpoint trained away from them;
#   3. the same run from a per-layer conversion (--no-scan_layers) must stop, naming the params;
#   4. `python -m t5x.eval` with gin/opt_iml_eval.gin on the trained checkpoint (SuperNI's dev
#      tasks; data parallel over the CPU devices, as gin/opt_iml_tiny.gin trains);
#   5. `python -m optiml_jax.eval` on the t5x model directory (its config.gin names the model).
# Prints "CHECK ..." lines (docs/t5x.md records them) and exits non-zero at the first failure.
#
#   scripts/check_t5x.sh T5X_CHECKOUT [WORK_DIR]
#
# Environment: OPTIML_DATA_DIR (required: the training and evaluation mixtures read it);
# PYTHON (default .venv/bin/python); T5X_EXTRA_PYTHONPATH for t5x's own dependencies when they
# are not installed (docs/t5x.md lists them); TRAIN_STEPS (default 12, above the tiny file's 10
# warmup steps); EVAL_EXAMPLES (default 8 per task).
set -euo pipefail

usage() { echo "usage: $0 T5X_CHECKOUT [WORK_DIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
[[ -d "$1/t5x" ]] || { echo "error: $1 is not a t5x checkout (no $1/t5x/)" >&2; exit 2; }
: "${OPTIML_DATA_DIR:?set OPTIML_DATA_DIR to the data folder (docs/benchmark.md)}"
export OPTIML_DATA_DIR

REPO=$(cd "$(dirname "$0")/.." && pwd)
T5X=$(cd "$1" && pwd)
WORK=${2:-$(mktemp -d /tmp/check_t5x.XXXXXX)}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
TRAIN_STEPS=${TRAIN_STEPS:-12}
EVAL_EXAMPLES=${EVAL_EXAMPLES:-8}
export PYTHONPATH="$T5X${T5X_EXTRA_PYTHONPATH:+:$T5X_EXTRA_PYTHONPATH}${PYTHONPATH:+:$PYTHONPATH}"
export XLA_FLAGS=--xla_force_host_platform_device_count=8 JAX_PLATFORMS=cpu
mkdir -p "$WORK"
cd "$REPO"

check() { echo "CHECK $*"; }
fail() { echo "CHECK FAILED: $*" >&2; exit 1; }
count() { grep -c -- "$1" "$2" || true; }

"$PYTHON" -c 'import t5x.train, t5x.eval' 2>"$WORK/import.log" \
  || fail "t5x does not import from $T5X ($(tail -n 1 "$WORK/import.log")); install its dependencies (docs/t5x.md)"
check "t5x $(git -C "$T5X" rev-parse HEAD 2>/dev/null || echo "(no git metadata)") from $T5X; work dir $WORK"

# 1. A random tiny HF model, converted with the default command.
"$PYTHON" scripts/random_hf_opt.py --preset tiny --dest "$WORK/hf"
summary=$("$PYTHON" -m optiml_jax.convert hf --src "$WORK/hf" --dest "$WORK/converted" --quiet)
check "converted: $(grep -o '[0-9,]* parameters' <<<"$summary") in the stacked layout (default)"

# 2. t5x.train from the converted checkpoint.
MODEL_DIR="$WORK/t5x_tiny"
"$PYTHON" -m t5x.train --gin_file=gin/opt_iml_tiny.gin --gin.MODEL_DIR=\""$MODEL_DIR"\" \
  --gin.INITIAL_CHECKPOINT_PATH=\""$WORK/converted/checkpoint_0"\" \
  --gin.TRAIN_STEPS="$TRAIN_STEPS" >"$WORK/train.log" 2>&1 \
  || fail "t5x.train exited non-zero; see $WORK/train.log"
not_restored=$(count "Not restoring param=target/" "$WORK/train.log")
from_scratch=$(count "Initializing param=target/" "$WORK/train.log")
optimizer_fresh=$(count "Initializing param=state/param_states/" "$WORK/train.log")
[[ $not_restored == 0 && $from_scratch == 0 ]] \
  || fail "t5x.train left $not_restored params unrestored, initialised $from_scratch from scratch"
[[ -d "$MODEL_DIR/checkpoint_$TRAIN_STEPS" ]] || fail "no $MODEL_DIR/checkpoint_$TRAIN_STEPS"
check "t5x.train: 0 'Not restoring param=target/' lines, 0 params from scratch," \
  "$optimizer_fresh optimizer-state leaves from scratch; $(grep -o 'collection=train accuracy=[^,]*, cross_ent_loss=[^,]*' "$WORK/train.log" | tail -n 1 | sed 's/collection=train //')" \
  "at step $TRAIN_STEPS"
check "checkpoint_0 vs converted: $("$PYTHON" scripts/compare_params.py "$MODEL_DIR/checkpoint_0" "$WORK/converted")" \
  || fail "t5x's checkpoint_0 params differ from the converted ones"
check "trained: $("$PYTHON" scripts/compare_params.py --expect different "$MODEL_DIR/checkpoint_$TRAIN_STEPS" "$WORK/converted")" \
  || fail "training left some params unchanged"

# 3. A checkpoint in the other layout must stop t5x.train, naming what is missing.
"$PYTHON" -m optiml_jax.convert hf --src "$WORK/hf" --dest "$WORK/per_layer" --no-scan_layers --quiet
if "$PYTHON" -m t5x.train --gin_file=gin/opt_iml_tiny.gin --gin.MODEL_DIR=\""$WORK/t5x_per_layer"\" \
    --gin.INITIAL_CHECKPOINT_PATH=\""$WORK/per_layer/checkpoint_0"\" \
    --gin.TRAIN_STEPS="$TRAIN_STEPS" >"$WORK/per_layer.log" 2>&1; then
  fail "t5x.train accepted a checkpoint without the model's params; see $WORK/per_layer.log"
fi
grep -q "MissingParamsError: t5x restore: .* model parameter(s) are not in the checkpoint" "$WORK/per_layer.log" \
  || fail "t5x.train failed, but not on the missing params; see $WORK/per_layer.log"
check "per-layer checkpoint refused: $(grep -o 'MissingParamsError: t5x restore: [^:]*' "$WORK/per_layer.log" | head -n 1)"

# 4. t5x.eval on the trained checkpoint.
"$PYTHON" -m t5x.eval --gin_file=gin/models/opt_tiny.gin --gin_file=gin/opt_iml_eval.gin \
  --gin.CHECKPOINT_PATH=\""$MODEL_DIR/checkpoint_$TRAIN_STEPS"\" \
  --gin.EVAL_OUTPUT_DIR=\""$WORK/t5x_eval"\" \
  --gin.MIXTURE_OR_TASK_NAME=\"opt_iml_superni_dev_fully_held_out_0shot\" \
  --gin.partitioning.PjitPartitioner.model_parallel_submesh="(1, 1)" \
  --gin.partitioning.PjitPartitioner.num_partitions=None \
  --gin.seqio.Evaluator.num_examples="$EVAL_EXAMPLES" >"$WORK/t5x_eval.log" 2>&1 \
  || fail "t5x.eval exited non-zero; see $WORK/t5x_eval.log"
metrics=$(find "$WORK/t5x_eval" -name '*-metrics.jsonl' | sort)
[[ -n $metrics ]] || fail "t5x.eval wrote no metrics; see $WORK/t5x_eval.log"
while read -r file; do
  check "t5x.eval $(basename "$file" -metrics.jsonl): $(tail -n 1 "$file")"
done <<<"$metrics"

# 5. Our evaluator on the t5x model directory.
"$PYTHON" -m optiml_jax.eval --checkpoint "$MODEL_DIR" --split dev --shots 0 \
  --max_examples_per_task "$EVAL_EXAMPLES" --out "$WORK/optiml_eval" >"$WORK/optiml_eval.log" 2>&1 \
  || fail "python -m optiml_jax.eval exited non-zero; see $WORK/optiml_eval.log"
check "optiml_jax.eval: $(grep -E 'average|wrote' "$WORK/optiml_eval.log" | paste -sd ';' -)"
check "all passed"
