#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Trains on every worker of a TPU VM, detached (the log is ~/optiml_jax.log on each worker; follow
# it with logs.sh):
#   tpu_scripts/run.sh --name NAME --zone ZONE --accelerator v4-64 --gin_file gin/native/opt_iml_30b.gin \
#     [--trainer native|t5x] [--project P] [--dry-run] -- --gin.MODEL_DIR=\"gs://bucket/run\" ...
# native (default): `python -m optiml_jax.train` with this worker's process settings (worker 0 is
# the coordinator; --process_index is the worker number). t5x: `python -m t5x.train` with the same
# command on every worker (t5x's TPU runtime connects the hosts itself; v5e/v5p/v6e need
# --gin.partitioning.PjitPartitioner.model_parallel_submesh=...). Everything after -- is passed on.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_flags "name zone project accelerator gin_file trainer" "dry-run" "$@"
require name zone accelerator gin_file
TRAINER=${TRAINER:-native}
count=$(workers "$ACCELERATOR")
echo "# $ACCELERATOR: $(chips "$ACCELERATOR") chips on $count worker(s); trainer $TRAINER"

case $TRAINER in
  native) module=optiml_jax.train; coordinator_address ;;
  t5x) module=t5x.train ;;
  *) die "--trainer $TRAINER: choose native or t5x" ;;
esac
# Relative to the home directory ssh starts in; the repository is the working directory so that
# gin/ includes resolve.
launch="cd $REMOTE_REPO && OPTIML_DATA_DIR=\$HOME/$REMOTE_DATA nohup ../$REMOTE_VENV/bin/python"
for ((worker = 0; worker < count; worker++)); do
  process=()
  [[ $TRAINER == native ]] && process=(--coordinator_address="$COORDINATOR"
                                       --process_count="$count" --process_index="$worker")
  arguments=$(quote -m "$module" --gin_file="$GIN_FILE" "${process[@]}" "${EXTRA_ARGS[@]}")
  on_worker "$worker" "$launch $arguments > \$HOME/$REMOTE_LOG 2>&1 &"
done
