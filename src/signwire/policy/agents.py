"""The ``parental-agents`` of a policy: which servers of the parent to ask for the DS, and with
which TSIG key (RFC 8945) to sign the question, if any.

Two forms, mixed freely in one list: an address, optionally with a port (``"192.0.2.53"``,
``"192.0.2.53:5353"``, ``"[2001:db8::53]:53"``), or a table (TOML inline tables stay on one
line; an array of tables reads better for long ones)::

    parental-agents = ["192.0.2.53", { address = "192.0.2.54", port = 5353 }]

    [[policy.mine.parental-agents]]
    address = "192.0.2.55"
    tsig = { name = "parent-key.", algorithm = "hmac-sha256", secret-file = "parent.key" }

A TSIG key has a ``name`` (as the agent knows it), an ``algorithm`` (``hmac-sha256`` unless
given; SHA-224/384/512 too; MD5 and SHA-1 are refused, RFC 8945 §6) and its secret, either
inline (``secret``, base64, as ``tsig-keygen`` or ``keymgr -t`` print it) or, better, in a file
only signwire can read (``secret-file``: the base64 secret alone, or a BIND ``key`` clause, or a
Knot ``key:`` section; a relative path is taken from the policy file's folder). The file is
read when an agent is asked (:mod:`signwire.parent.query`), so checking a policy needs no
access to it. No message here ever repeats a secret, not even a malformed one.

Pure: the only input is the TOML value; problems go to the caller's ``fail(key, why)``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from signwire.policy.model import ParentalAgent, TsigKey
from signwire.zones import names

KEY = "parental-agents"
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224")
REFUSED_TSIG_ALGORITHMS = ("hmac-md5", "hmac-md5.sig-alg.reg.int", "hmac-sha1")
MIN_SECRET_OCTETS = 16  # RFC 8945 §6 recommends at least the HMAC's output length
_AGENT_FIELDS = frozenset({"address", "port", "tsig"})
_TSIG_FIELDS = frozenset({"name", "algorithm", "secret", "secret-file"})

Fail = Callable[[str, str], None]


def parse_agents(value: Any, fail: Fail, *, source: str) -> tuple[ParentalAgent, ...]:
    """The agents of a ``parental-agents`` value; every problem goes to ``fail``."""
    if not isinstance(value, list):
        fail(KEY, 'must be a list such as ["192.0.2.53", "[2001:db8::1]:53"]')
        return ()
    agents: list[ParentalAgent] = []
    for n, item in enumerate(value, 1):
        if isinstance(item, str):
            agent = parse_address(item)
            if agent is None:
                fail(KEY, f"{item!r} is not an IP address with an optional port")
            else:
                agents.append(agent)
        elif isinstance(item, Mapping):
            table_agent = _agent_table(item, n, fail, source)
            if table_agent is not None:
                agents.append(table_agent)
        else:
            fail(KEY, f"agent {n}: must be an address or a table {{address = ..., tsig = ...}}")
    return tuple(agents)


def parse_address(text: str, port: int = 53) -> ParentalAgent | None:
    """``192.0.2.53``, ``192.0.2.53:5353``, ``2001:db8::53`` or ``[2001:db8::53]:5353``."""
    host = text.strip()
    if host.startswith("["):
        inside, sep, rest = host[1:].partition("]")
        if not sep:
            return None
        host = inside
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not 0 < port < 65536:
        return None
    return ParentalAgent(str(address), port)


def _agent_table(table: Mapping[str, Any], n: int, fail: Fail, source: str) -> ParentalAgent | None:
    where = f"agent {n}"
    unknown = sorted(set(table) - _AGENT_FIELDS)
    if unknown:
        fail(
            KEY,
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))} "
            f"(known: address, port, tsig)",
        )
        return None
    address, port = table.get("address"), table.get("port", 53)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        fail(KEY, f"{where}: port must be a number from 1 to 65535, not {port!r}")
        return None
    if not isinstance(address, str):
        fail(KEY, f'{where}: needs address = "192.0.2.53" (an IP address)')
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        fail(KEY, f"{where}: {address!r} is not an IP address (give the port as port = N)")
        return None
    agent = ParentalAgent(str(ip), port)
    tsig = table.get("tsig")
    if tsig is None:
        return agent
    if not isinstance(tsig, Mapping):
        fail(KEY, f"{where}: tsig must be a table {{name = ..., secret-file = ...}}")
        return None
    key = _tsig(tsig, f"{where} ({agent.address})", fail, source)
    return None if key is None else ParentalAgent(agent.address, agent.port, key)


def _tsig(table: Mapping[str, Any], where: str, fail: Fail, source: str) -> TsigKey | None:
    problems_before = _Counter(fail)
    say = problems_before.fail
    unknown = sorted(set(table) - _TSIG_FIELDS)
    if unknown:
        say(
            KEY,
            f"{where}: tsig: unknown field(s) {', '.join(map(repr, unknown))} "
            f"(known: name, algorithm, secret, secret-file)",
        )
    name_text = table.get("name")
    name = None
    if not isinstance(name_text, str) or not name_text.strip():
        say(KEY, f'{where}: tsig needs the key\'s name (name = "parent-key.")')
    else:
        try:
            wire = names.from_text(name_text if name_text.endswith(".") else name_text + ".", None)
            name = names.to_text(names.lower(wire))
        except ValueError as e:
            say(KEY, f"{where}: tsig name {name_text!r}: {e}")
    algorithm = table.get("algorithm", "hmac-sha256")
    if not isinstance(algorithm, str) or algorithm.strip().lower().rstrip(".") not in (
        *TSIG_ALGORITHMS,
        *REFUSED_TSIG_ALGORITHMS,
    ):
        say(
            KEY,
            f"{where}: tsig algorithm must be one of {', '.join(TSIG_ALGORITHMS)}, "
            f"not {algorithm!r}",
        )
        algorithm = "hmac-sha256"
    algorithm = algorithm.strip().lower().rstrip(".")
    if algorithm in REFUSED_TSIG_ALGORITHMS:
        say(
            KEY,
            f"{where}: tsig algorithm {algorithm} must not be used any more "
            f"(RFC 8945 §6); use hmac-sha256",
        )
    secret, secret_file = table.get("secret"), table.get("secret-file")
    if (secret is None) == (secret_file is None):
        say(KEY, f"{where}: tsig needs exactly one of secret (base64) and secret-file")
    decoded: bytes | None = None
    if secret is not None:
        try:
            decoded = decode_secret(secret)
        except ValueError as e:
            say(KEY, f"{where}: tsig secret {e}")
    path: str | None = None
    if secret_file is not None:
        if not isinstance(secret_file, str) or not secret_file:
            say(KEY, f"{where}: tsig secret-file must be a file name")
        else:
            path = _resolve(secret_file, source)
    if problems_before.count or name is None:
        return None
    return TsigKey(name, algorithm, decoded, path)


def decode_secret(value: object) -> bytes:
    """A TSIG secret from its base64 text; ValueError says what is wrong without quoting it."""
    if not isinstance(value, str):
        raise ValueError("must be base64 text")
    try:
        secret = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    if len(secret) < MIN_SECRET_OCTETS:
        raise ValueError(
            f"is {len(secret)} octets; use at least {MIN_SECRET_OCTETS} (RFC 8945 §6 advises "
            f"as long as the HMAC output: tsig-keygen makes such keys)"
        )
    return secret


def _resolve(path: str, source: str) -> str:
    given = PurePath(path)
    if given.is_absolute() or source.startswith("<"):
        return str(given)
    return str(PurePath(source).parent / given)


class _Counter:
    """Counts the problems passed on, so one table's parse knows whether it failed."""

    def __init__(self, fail: Fail) -> None:
        self._fail = fail
        self.count = 0

    def fail(self, key: str, why: str) -> None:
        self.count += 1
        self._fail(key, why)
