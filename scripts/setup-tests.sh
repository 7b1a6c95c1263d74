#!/usr/bin/env bash
# Installs everything the test suite needs, and nothing when it is all there already.
#
#   1. The outside programs the interop tests run (ldns, BIND and Knot tools, SoftHSM2,
#      Unbound, PowerDNS with its SQLite backend, BIND 9's named as secondary). As root,
#      missing ones are installed with apt-get; otherwise the script says
#      what to install and goes on (those tests then skip, saying why).
#   2. A virtual environment in .venv (Python >= 3.11) with signwire installed in editable
#      mode plus its dev extra (pytest, xdist, hypothesis, atheris, ruff, mypy).
#
# Safe to run again: each step checks first. Used by scripts/test.sh and the README:
#   scripts/setup-tests.sh && .venv/bin/python -m pytest
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
VENV="$REPO/.venv"

say() { printf 'setup: %s\n' "$*"; }

# program -> Debian 12 package that provides it (checked with dpkg -S)
declare -A PACKAGE_OF=(
    [ldns-verify-zone]=ldnsutils [ldns-signzone]=ldnsutils [ldns-keygen]=ldnsutils
    [dnssec-verify]=bind9-utils [dnssec-signzone]=bind9-utils [dnssec-keygen]=bind9-utils
    [kzonecheck]=knot-dnssecutils [kzonesign]=knot-dnssecutils
    [keymgr]=knot [knotd]=knot [knotc]=knot
    [kdig]=knot-dnsutils
    [softhsm2-util]=softhsm2
    [unbound]=unbound
    [openssl]=openssl
    [named-checkzone]=bind9-utils
    [pdns_server]=pdns-server
    [named]=bind9
)
PACKAGES=(ldnsutils bind9-utils bind9 knot knot-dnssecutils knot-dnsutils softhsm2 unbound openssl
    pdns-server pdns-backend-sqlite3)
# Packages that ship no program of their own to look for (a backend module): checked by dpkg.
LIBRARY_PACKAGES=(pdns-backend-sqlite3)

have() {
    command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]]
}

python_ok() {  # $1: interpreter; true when it is >= 3.11 and can make a venv with pip
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# --- 1. outside programs ------------------------------------------------------------------
missing=()
for program in "${!PACKAGE_OF[@]}"; do
    have "$program" || missing+=("$program")
done
for package in "${LIBRARY_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$package")
done
need_venv_package=no
if ! find_python >/dev/null; then
    need_venv_package=yes  # Debian's python3 lacks venv/ensurepip until python3-venv is in
fi

if ((${#missing[@]} > 0)) || [[ $need_venv_package == yes ]]; then
    wanted=("${PACKAGES[@]}")
    for program in "${missing[@]}"; do
        package=${PACKAGE_OF[$program]:-$program}
        [[ " ${wanted[*]} " == *" $package "* ]] || wanted+=("$package")
    done
    [[ $need_venv_package == no ]] || wanted+=(python3 python3-venv)
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing Debian packages (missing: ${missing[*]:-python venv}): ${wanted[*]}"
        # Installing knot or unbound must not start their daemons (they would take port 53
        # on loopback, which tests use): forbid service starts for this run, unless the
        # machine already has its own policy.
        policy=/usr/sbin/policy-rc.d
        made_policy=no
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            made_policy=yes
        fi
        cleanup_policy() { [[ $made_policy == no ]] || rm -f "$policy"; }
        trap cleanup_policy EXIT
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
        cleanup_policy
        trap - EXIT
        still=()
        for program in "${missing[@]}"; do
            if [[ -n ${PACKAGE_OF[$program]:-} ]]; then
                have "$program" || still+=("$program")
            else
                dpkg-query -W -f='${Status}' "$program" 2>/dev/null |
                    grep -q 'install ok installed' || still+=("$program")
            fi
        done
        if ((${#still[@]} > 0)); then
            say "error: still missing after apt-get: ${still[*]}" >&2
            exit 1
        fi
    else
        say "not root: cannot install. Missing programs: ${missing[*]:-none}"
        say "as root, run: apt-get install --no-install-recommends ${wanted[*]}"
        say "(the interop tests that need them will skip, saying so; under CI=true they fail)"
    fi
fi

# --- 2. virtual environment ---------------------------------------------------------------
venv_ok() {
    "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null &&
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}
if [[ ! -x $VENV/bin/python ]] || ! venv_ok; then
    if ! python=$(find_python); then
        say "error: no Python >= 3.11 with the venv module (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    say "creating $VENV with $python ($("$python" -c 'import platform; print(platform.python_version())'))"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
fi

# Reinstall only when pyproject.toml changed or signwire is not importable from this checkout.
stamp="$VENV/.signwire-setup"
want_stamp="$(sha256sum pyproject.toml | cut -d' ' -f1) $REPO"
installed_from=$("$VENV/bin/python" -c 'import signwire, os; print(os.path.dirname(signwire.__file__))' 2>/dev/null || true)
if [[ ! -f $stamp || $(cat "$stamp") != "$want_stamp" || $installed_from != "$REPO/src/signwire" ]]; then
    say "installing signwire (editable) with its dev extra into .venv"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
    "$VENV/bin/python" -m pip install -q -e "$REPO[dev]"
    printf '%s\n' "$want_stamp" >"$stamp"
fi
say "ready: $("$VENV/bin/python" --version), outside programs: $(
    n=0; for p in "${!PACKAGE_OF[@]}"; do have "$p" && n=$((n + 1)); done
    echo "$n of ${#PACKAGE_OF[@]} present"
)"
