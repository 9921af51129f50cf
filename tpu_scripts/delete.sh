#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Deletes a TPU VM (with --queued: its queued resource, and the node with it).
#   tpu_scripts/delete.sh --name NAME --zone ZONE [--project P] [--queued] [--dry-run]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_flags "name zone project" "dry-run queued" "$@"
require name zone
if [[ ${QUEUED:-0} == 1 ]]; then
  gcloud_tpu queued-resources delete "$NAME" --force --quiet
else
  gcloud_tpu tpu-vm delete "$NAME" --quiet
fi
