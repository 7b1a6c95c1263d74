#!/usr/bin/env bash
# Install signwire into .venv and run its main job on the shipped example:
#   1. sign examples/example.com.zone offline (keys are created in example-keys/ on the first
#      run) and verify the result independently;
#   2. run the daemon on the embedded default, examples/signwire.toml: it signs the same zone
#      under the built-in policy and serves it on 127.0.0.1 port 5353 until Ctrl-C (SIGTERM):
#        dig @127.0.0.1 -p 5353 example.com SOA +dnssec
#        dig @127.0.0.1 -p 5353 example.com AXFR -y hmac-sha256:example-xfr:<secret in the toml>
# Works on a fresh Debian 12 machine; as root it installs python3-venv if Debian's Python lacks
# it. SIGNWIRE_EXAMPLE_SERVE=no stops after step 1.
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

[ "${SIGNWIRE_EXAMPLE_SERVE:-yes}" = no ] && exit 0
echo "run-example: serving example.com signed on 127.0.0.1:5353 (Ctrl-C stops);" \
    "try: dig @127.0.0.1 -p 5353 example.com SOA +dnssec" >&2
exec .venv/bin/signwire serve --config examples/signwire.toml
