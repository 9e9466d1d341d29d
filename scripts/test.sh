#!/usr/bin/env bash
# `make test`: the whole test suite, SLURM tests included.
#
# The SLURM tests need a cluster.  When none is configured (SLURM_CONF unset and `sinfo` gets no
# answer from the default config), this starts the project's one-node cluster
# (scripts/slurm-localhost.sh, docs/slurm.md), runs pytest with its SLURM_CONF, and stops it
# afterwards -- only if this run started it.  When it cannot start one (no slurm-wlm and not root,
# apt-get fails, ...) it says why in one line and runs pytest anyway: the SLURM tests then skip,
# or fail under CI=true (tests/slurm_helpers.py).
#
#   bash scripts/test.sh [pytest args...]       PY: the interpreter (default .venv/bin/python)
#   START_SLURM=no bash scripts/test.sh ...     never start a cluster
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CLUSTER=scripts/slurm-localhost.sh
say() { echo "make test: $*" >&2; }

started=0
stop_cluster() {
    if ((started)); then
        started=0
        if bash "$CLUSTER" stop 2>/dev/null; then
            say "stopped the SLURM cluster it had started"
        else
            say "could not stop the SLURM cluster; run: bash $CLUSTER stop"
        fi
    fi
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True if sinfo, with the default config, sees a node that can run jobs (a site cluster).
default_cluster_answers() {
    command -v sinfo >/dev/null || return 1
    # an unreachable controller makes sinfo retry for ~10 s; do not wait longer than that
    timeout 15 sinfo --noheader --format=%T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)$'
}

if [[ -n ${SLURM_CONF:-} ]]; then
    :  # the caller chose a cluster; the tests use it as it is
elif [[ ${START_SLURM:-yes} == no ]]; then
    say "START_SLURM=no: not starting a SLURM cluster; the slurm tests skip (fail under CI=true)"
elif default_cluster_answers; then
    :  # a configured cluster answers; the tests find it themselves
elif status=$(bash "$CLUSTER" status 2>/dev/null); then
    # someone else's run started it: use it, and leave it running
    export SLURM_CONF=$(sed -n 's/^SLURM_CONF=//p' <<<"$status")
    say "using the one-node SLURM cluster already running (SLURM_CONF=$SLURM_CONF)"
else
    log=$(mktemp "${TMPDIR:-/tmp}/zcnas-slurm-start.XXXXXX")
    if exports=$(bash "$CLUSTER" start 2>"$log") && [[ $exports == *"export SLURM_CONF="* ]]; then
        eval "$(grep '^export SLURM_CONF=' <<<"$exports")"
        started=1
        say "started a one-node SLURM cluster for the slurm tests (SLURM_CONF=$SLURM_CONF; stopped afterwards)"
        rm -f "$log"
    else
        # a start that got halfway (daemons up, node never idle) is this run's to clean up
        bash "$CLUSTER" stop >/dev/null 2>&1
        why=$(grep -h 'error:' "$log" | tail -n 1 | sed 's/^slurm-localhost: error: //')
        if [[ -n $why ]]; then
            rm -f "$log"
        else
            why="$(grep -v '^[[:space:]]*$' "$log" | tail -n 1); log: $log"
        fi
        say "no SLURM cluster for the slurm tests ($why), so they skip (fail under CI=true)"
    fi
fi

"$PY" -m pytest "$@"
rc=$?
stop_cluster
exit "$rc"
