#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Streams the log of the job run.sh or eval.sh started (worker 0 by default; --worker all prints
# every worker's, prefixed by gcloud with the worker). Ctrl-C stops following; the job goes on.
#   tpu_scripts/logs.sh --name NAME --zone ZONE [--worker 0|all|N] [--lines 100] [--project P] [--dry-run]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_flags "name zone project worker lines" "dry-run" "$@"
require name zone
on_worker "${WORKER:-0}" "tail -n ${LINES:-100} -F \$HOME/$REMOTE_LOG"
