#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Sets up every worker of a TPU VM: this checkout (tracked and untracked files, not ignored ones)
# installed with its [tpu] extra in ~/venv, t5x at the commit docs/t5x.md was checked against in
# ~/t5x with its dependencies, and optionally the data folder copied from GCS to ~/optiml_data
# (the data readers read local files; checkpoints and outputs can stay on gs://).
#   tpu_scripts/setup.sh --name NAME --zone ZONE [--project P] [--data gs://bucket/data]
#     [--t5x_commit COMMIT] [--dry-run]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_flags "name zone project data t5x_commit" "dry-run" "$@"
require name zone
T5X_COMMIT=${T5X_COMMIT:-$PINNED_T5X_COMMIT}
archive=$(mktemp -u /tmp/optiml_jax.XXXXXX.tar.gz)

if [[ $DRY_RUN == 1 ]]; then
  echo "cd $(quote "$REPO") && git ls-files -z --cached --others --exclude-standard | tar -czf $(quote "$archive") --null -T -"
else
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard | tar -czf "$archive" --null -T -)
  trap 'rm -f "$archive"' EXIT
fi
gcloud_tpu tpu-vm scp "$archive" "$NAME:$REMOTE_REPO.tar.gz" --worker=all

install=(
  "set -e"
  "sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv git"
  "mkdir -p $REMOTE_REPO && tar -xzf $REMOTE_REPO.tar.gz -C $REMOTE_REPO"
  "python3 -m venv $REMOTE_VENV && $REMOTE_VENV/bin/pip install -q -U pip"
  "$REMOTE_VENV/bin/pip install -q -e '${REMOTE_REPO}[tpu]'"
  "[ -d $REMOTE_T5X ] || git clone -q $T5X_REPOSITORY $REMOTE_T5X"
  "git -C $REMOTE_T5X fetch -q origin && git -C $REMOTE_T5X checkout -q $T5X_COMMIT"
  "$REMOTE_VENV/bin/pip install -q --no-deps -e $REMOTE_T5X"
  "$REMOTE_VENV/bin/pip install -q -r $REMOTE_REPO/scripts/t5x_requirements.txt"
)
if [[ -n ${DATA:-} ]]; then
  [[ $DATA == gs://* ]] || die "--data must be a gs:// folder (the data folder of docs/benchmark.md)"
  install+=("mkdir -p $REMOTE_DATA && gcloud storage rsync --recursive $(quote "$DATA") $REMOTE_DATA")
fi
remote=$(printf '%s && ' "${install[@]}")
on_worker all "${remote% && }"
