#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Creates a TPU VM or pod slice.
#   tpu_scripts/create.sh --name NAME --zone ZONE --accelerator v4-64 [--project P]
#     [--runtime_version V] [--spot] [--queued] [--dry-run]
# Accelerators: v4-N, v5p-N, v5litepod-N (v5e), v6e-N. The runtime version defaults to the
# generation's TPU VM image. --spot asks for preemptible capacity; --queued files a queued
# resource (the node appears when capacity is granted; `gcloud compute tpus queued-resources
# describe NAME` shows its state) instead of failing when the zone has none now.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_flags "name zone project accelerator runtime_version" "dry-run spot queued" "$@"
require name zone accelerator
RUNTIME_VERSION=${RUNTIME_VERSION:-$(runtime_version "$ACCELERATOR")}
echo "# $ACCELERATOR: $(chips "$ACCELERATOR") chips on $(workers "$ACCELERATOR") worker(s), runtime $RUNTIME_VERSION"

capacity=()
[[ ${SPOT:-0} == 1 ]] && capacity=(--spot)
if [[ ${QUEUED:-0} == 1 ]]; then
  gcloud_tpu queued-resources create "$NAME" --node-id="$NAME" --accelerator-type="$ACCELERATOR" \
    --runtime-version="$RUNTIME_VERSION" "${capacity[@]}"
else
  gcloud_tpu tpu-vm create "$NAME" --accelerator-type="$ACCELERATOR" \
    --version="$RUNTIME_VERSION" "${capacity[@]}"
fi
