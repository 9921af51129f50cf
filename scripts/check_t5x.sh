#!/usr/bin/env bash
# The whole t5x path with real t5x from a checkout (read-only; nothing of it enters this repository),
# on an 8-device CPU mesh, running exactly the README's toy-size CPU commands ("Under real t5x")
# (tests/test_readme.py compares them argument for argument):
#   1. a random tiny HF OPT, converted with `python -m optiml_jax.convert hf` (default layout);
#   2. `python -m t5x.train --gin_file=gin/opt_iml_tiny.gin` from it: no target param left
#      unrestored or initialised from scratch, only the optimizer state the params-only checkpoint
#      lacks (counted against the number AdamW's state has); t5x's checkpoint_0 params equal to the
#      converted ones, the last checkpoint trained away from them;
#   3. the same run from a per-layer conversion (--no-scan_layers) must stop, naming the params;
#   4. `python -m t5x.eval` with gin/opt_iml_eval.gin on the trained checkpoint (SuperNI's dev
#      fully-held-out mixture, data parallel over the CPU devices as gin/opt_iml_tiny.gin trains);
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

# What t5x.train and t5x.eval import, their __main__ blocks included (fiddle, config_utils).
"$PYTHON" -c 'import t5x.train, t5x.eval, t5x.config_utils, fiddle' 2>"$WORK/import.log" \
  || fail "t5x does not import from $T5X ($(tail -n 1 "$WORK/import.log")); install its dependencies (docs/t5x.md)"
# Which t5x, airio and jestimator ran: the commit of the git checkout each is imported from.
versions=$("$PYTHON" - <<'EOF' 2>/dev/null
import importlib, os, subprocess
for name in ("t5x", "airio", "jestimator"):
    where = os.path.dirname(list(importlib.import_module(name).__path__)[0])  # airio: a namespace
    commit = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "(no git metadata)"
    print(f"{name} {commit} ({where})")
EOF
)
check "$(date -u +%F): $(paste -sd ';' - <<<"$versions" | sed 's/;/; /g'); work dir $WORK"

# 1. A random tiny HF model, converted with the default command.
"$PYTHON" scripts/random_hf_opt.py --preset tiny --dest "$WORK/hf" >"$WORK/random_hf.log" 2>&1 \
  || fail "scripts/random_hf_opt.py exited non-zero; see $WORK/random_hf.log"
"$PYTHON" -m optiml_jax.convert hf --src "$WORK/hf" --dest "$WORK/converted" >"$WORK/convert.log" 2>&1 \
  || fail "optiml_jax.convert exited non-zero; see $WORK/convert.log"
check "converted: $(grep -o '[0-9,]* parameters' "$WORK/convert.log" | tail -n 1) in the stacked layout (default)"

# 2. t5x.train from the converted checkpoint.
"$PYTHON" -m t5x.train --gin_file=gin/opt_iml_tiny.gin --gin.MODEL_DIR=\""$WORK/t5x_tiny"\" \
  --gin.INITIAL_CHECKPOINT_PATH=\""$WORK/converted/checkpoint_0"\" \
  --gin.TRAIN_STEPS="$TRAIN_STEPS" >"$WORK/train.log" 2>&1 \
  || fail "t5x.train exited non-zero; see $WORK/train.log"
[[ -d "$WORK/t5x_tiny/checkpoint_$TRAIN_STEPS" ]] || fail "no $WORK/t5x_tiny/checkpoint_$TRAIN_STEPS"
# t5x logs "Not restoring param=<path>" for every model-state leaf the checkpoint lacks, then (with
# fallback_to_scratch) "Initializing param=<path> from scratch" for it. Target params: none may be
# missing. Optimizer state: a converted checkpoint holds params only, so all of AdamW's state is
# missing and initialised from scratch, by design; its leaf count is that of the optimizer the run
# files build (clip_by_global_norm + adamw over these params).
not_restored=$(count "Not restoring param=" "$WORK/train.log")
target_missing=$(count "Not restoring param=target/" "$WORK/train.log")
target_fresh=$(count "Initializing param=target/" "$WORK/train.log")
optimizer_missing=$(count "Not restoring param=state/param_states/" "$WORK/train.log")
optimizer_fresh=$(count "Initializing param=state/param_states/" "$WORK/train.log")
read -r param_leaves optimizer_leaves < <("$PYTHON" - "$WORK/converted" <<'EOF' 2>/dev/null
import sys
import jax, optax
from optiml_jax.checkpoints import stored_param_shapes
params = {"/".join(path): jax.ShapeDtypeStruct(shape, dtype)
          for path, (shape, dtype) in stored_param_shapes(sys.argv[1]).items()}
optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(lambda count: 0.0))
print(len(params), len(jax.tree.leaves(jax.eval_shape(optimizer.init, params))))
EOF
)
[[ -n ${optimizer_leaves:-} ]] || fail "could not count the optimizer state of $WORK/converted"
[[ $target_missing == 0 && $target_fresh == 0 ]] \
  || fail "t5x.train left $target_missing target params unrestored, initialised $target_fresh from scratch"
[[ $optimizer_missing == "$optimizer_leaves" && $optimizer_fresh == "$optimizer_leaves" \
   && $not_restored == "$optimizer_missing" ]] \
  || fail "optimizer state: $optimizer_missing not restored, $optimizer_fresh initialised," \
          "$not_restored 'Not restoring param=' lines in all; expected $optimizer_leaves each"
check "t5x.train restore: target params: $target_missing 'Not restoring param=target/' lines," \
  "$target_fresh initialised from scratch (of $param_leaves param leaves)"
check "t5x.train restore: optimizer state: $optimizer_missing 'Not restoring param=state/param_states/'" \
  "lines, $optimizer_fresh initialised from scratch; expected $optimizer_leaves = AdamW's mu and nu for" \
  "each of the $param_leaves param leaves + 2 step counts (Adam's, the schedule's), which a" \
  "params-only checkpoint does not hold; no other 'Not restoring' line"
check "t5x.train: $(grep -o 'collection=train accuracy=[^,]*, cross_ent_loss=[^,]*' "$WORK/train.log" | tail -n 1 | sed 's/collection=train //')" \
  "at step $TRAIN_STEPS"
# (Assigned first: a failing command substitution inside `check`'s arguments would not stop the script.)
restored=$("$PYTHON" scripts/compare_params.py "$WORK/t5x_tiny/checkpoint_0" "$WORK/converted") \
  || fail "t5x's checkpoint_0 params differ from the converted ones: $restored"
check "checkpoint_0 vs converted: $restored"
trained=$("$PYTHON" scripts/compare_params.py --expect different "$WORK/t5x_tiny/checkpoint_$TRAIN_STEPS" "$WORK/converted") \
  || fail "training left some params unchanged: $trained"
check "trained: $trained"

# 3. A checkpoint in the other layout must stop t5x.train, naming what is missing.
"$PYTHON" -m optiml_jax.convert hf --src "$WORK/hf" --dest "$WORK/per_layer" --no-scan_layers \
  >"$WORK/per_layer_convert.log" 2>&1 || fail "optiml_jax.convert --no-scan_layers exited non-zero"
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
  --gin.CHECKPOINT_PATH=\""$WORK/t5x_tiny/checkpoint_$TRAIN_STEPS"\" \
  --gin.EVAL_OUTPUT_DIR=\""$WORK/t5x_eval"\" \
  --gin.MIXTURE_OR_TASK_NAME=\"opt_iml_superni_dev_fully_held_out_0shot\" \
  --gin.partitioning.PjitPartitioner.model_parallel_submesh="(1,1)" \
  --gin.partitioning.PjitPartitioner.num_partitions=None \
  --gin.seqio.Evaluator.num_examples="$EVAL_EXAMPLES" >"$WORK/t5x_eval.log" 2>&1 \
  || fail "t5x.eval exited non-zero; see $WORK/t5x_eval.log"
metrics=$(find "$WORK/t5x_eval" -name '*-metrics.jsonl' | sort)
[[ -n $metrics ]] || fail "t5x.eval wrote no metrics; see $WORK/t5x_eval.log"
while read -r file; do
  check "t5x.eval $(basename "$file" -metrics.jsonl): $(tail -n 1 "$file")"
done <<<"$metrics"

# 5. Our evaluator on the t5x model directory.
"$PYTHON" -m optiml_jax.eval --checkpoint "$WORK/t5x_tiny" --split dev --shots 0 \
  --max_examples_per_task "$EVAL_EXAMPLES" --out "$WORK/optiml_eval" >"$WORK/optiml_eval.log" 2>&1 \
  || fail "python -m optiml_jax.eval exited non-zero; see $WORK/optiml_eval.log"
check "optiml_jax.eval: $(grep -E 'average|wrote' "$WORK/optiml_eval.log" | paste -sd ';' -)"
check "all passed"
