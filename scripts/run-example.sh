#!/usr/bin/env bash
# Install signwire into .venv and run its main job on the shipped example zone:
# sign examples/example.com.zone (keys are created in example-keys/ on the first run) and
# verify the result independently. Works on a fresh Debian 12 machine; as root it installs
# python3-venv if Debian's Python lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "run-example: python3-venv is missing; install it (apt-get install python3-venv)" >&2
        exit 2
    fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v '^WARNING: Location' >&2 || true

.venv/bin/signwire sign examples/example.com.zone --origin example.com. \
    --keys example-keys --nsec3 --cds -o example.com.zone.signed
.venv/bin/signwire verify example.com.zone.signed --origin example.com.
