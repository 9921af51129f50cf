# Shared by the tpu_scripts/*.sh commands (sourced, not run): flags, dry runs, TPU topology.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO
# Where setup.sh puts things on every worker, relative to the home directory that ssh starts in
# (run.sh and eval.sh use the same places).
export REMOTE_REPO=optiml_jax REMOTE_VENV=venv REMOTE_T5X=t5x REMOTE_DATA=optiml_data
export REMOTE_LOG=optiml_jax.log
# t5x at the commit docs/t5x.md was checked against.
export T5X_REPOSITORY=https://github.com/google-research/t5x
export PINNED_T5X_COMMIT=cc342d419ec3e3e9c4bf1df33c82330cafdc1e16
export COORDINATOR_PORT=8476

die() { echo "error: $*" >&2; exit 2; }

# parse_flags "name zone ..." "dry-run spot ..." ARGS...: `--some_flag VALUE` sets SOME_FLAG,
# a switch `--dry-run` sets DRY_RUN=1; everything after `--` goes to EXTRA_ARGS. Variables of
# the same names in the environment (LINES, NAME, ...) are cleared first: only flags set them.
parse_flags() {
  local valued=" $1 " switches=" $2 " flag variable
  for flag in $1 $2; do
    unset "$(tr 'a-z-' 'A-Z_' <<<"$flag")"
  done
  DRY_RUN=0
  shift 2
  # shellcheck disable=SC2034  # read by the scripts that source this file
  EXTRA_ARGS=()
  while [[ $# -gt 0 ]]; do
    # shellcheck disable=SC2034
    [[ $1 == -- ]] && { shift; EXTRA_ARGS=("$@"); return; }
    [[ $1 == --* ]] || die "unexpected argument '$1' (overrides go after --)"
    flag=${1#--}
    variable=$(tr 'a-z-' 'A-Z_' <<<"$flag")
    if [[ $valued == *" $flag "* ]]; then
      [[ $# -ge 2 ]] || die "--$flag needs a value"
      printf -v "$variable" '%s' "$2"
      shift 2
    elif [[ $switches == *" $flag "* ]]; then
      printf -v "$variable" '%s' 1
      shift
    else
      die "unknown flag --$flag (flags: $valued / switches: $switches)"
    fi
  done
}

require() {
  local flag
  for flag in "$@"; do
    local variable
    variable=$(tr 'a-z-' 'A-Z_' <<<"$flag")
    [[ -n ${!variable:-} ]] || die "--$flag is required"
  done
}

# quote ARGS...: one string a shell splits back into ARGS (single quotes where needed).
quote() {
  local arg out=()
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+=("$arg")
    else
      out+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  echo "${out[*]}"
}

# run CMD...: runs it, or with --dry-run prints it, shell-quoted, exactly as it would run.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    quote "$@"
  else
    "$@"
  fi
}

# The generation and size of an accelerator type: v4-64 → "v4 64". v4 and v5p count TensorCores
# (2 per chip), v5e (v5litepod-N) and v6e count chips.
accelerator_parts() {
  case $1 in
    v4-[0-9]*) echo "v4 ${1#v4-}" ;;
    v5p-[0-9]*) echo "v5p ${1#v5p-}" ;;
    v5litepod-[0-9]*) echo "v5e ${1#v5litepod-}" ;;
    v6e-[0-9]*) echo "v6e ${1#v6e-}" ;;
    *) die "accelerator type '$1': expected v4-N, v5p-N, v5litepod-N or v6e-N" ;;
  esac
}

# chips ACCELERATOR: TPU chips in the slice.
chips() {
  local generation size
  read -r generation size <<<"$(accelerator_parts "$1")"
  case $generation in
    v4|v5p) echo $((size / 2)) ;;
    *) echo "$size" ;;
  esac
}

# workers ACCELERATOR: hosts (TPU VM workers) of the slice: 4 chips each, except the single-host
# v5e / v6e shapes with up to 8 chips.
workers() {
  local generation size count
  read -r generation size <<<"$(accelerator_parts "$1")"
  count=$(chips "$1")
  if [[ $generation == v5e || $generation == v6e ]] && ((count <= 8)); then
    echo 1
  else
    echo $(((count + 3) / 4))
  fi
}

# runtime_version ACCELERATOR: the TPU VM software version for its generation.
runtime_version() {
  local generation size
  read -r generation size <<<"$(accelerator_parts "$1")"
  case $generation in
    v4) echo tpu-ubuntu2204-base ;;
    v5p) echo v2-alpha-tpuv5 ;;
    v5e) echo v2-alpha-tpuv5-lite ;;
    v6e) echo v2-alpha-tpuv6e ;;
  esac
}

# gcloud_tpu SUBCOMMAND...: `gcloud compute tpus SUBCOMMAND... --zone --project`.
gcloud_tpu() {
  local project=()
  [[ -n ${PROJECT:-} ]] && project=(--project="$PROJECT")
  run gcloud compute tpus "$@" --zone="$ZONE" "${project[@]}"
}

# coordinator_address: sets COORDINATOR to worker 0's internal IP and our port. A dry run
# prints the lookup and writes COORDINATOR_IP where its answer would go.
coordinator_address() {
  local project=() lookup
  [[ -n ${PROJECT:-} ]] && project=(--project="$PROJECT")
  lookup=(gcloud compute tpus tpu-vm describe "$NAME" --zone="$ZONE" "${project[@]}"
          '--format=value(networkEndpoints[0].ipAddress)')
  if [[ $DRY_RUN == 1 ]]; then
    echo "# COORDINATOR_IP below is worker 0's address: $(quote "${lookup[@]}")"
    COORDINATOR=COORDINATOR_IP
  else
    COORDINATOR=$("${lookup[@]}")
  fi
  COORDINATOR="$COORDINATOR:$COORDINATOR_PORT"
}

# on_worker WORKER REMOTE_COMMAND: runs a shell command on one worker (or "all") over ssh.
on_worker() {
  gcloud_tpu tpu-vm ssh "$NAME" --worker="$1" --command="$2"
}
