"""Ask the parental agents for a zone's DS RRset: the thin I/O shell around :mod:`.parent`.

Each agent gets the question of :func:`signwire.parent.agents.ds_query` over UDP, and again over
TCP when the reply is truncated (RFC 7766 §5), all agents at once. Only the addresses and ports
the policy lists are asked; no name is resolved. A failure of one agent (timeout, nothing
listening, a malformed reply) becomes a :class:`~signwire.parent.agents.QueryError` for that agent,
never an exception, so :func:`~signwire.parent.agents.observe` can say which agent failed and how.

An agent with a TSIG key (RFC 8945) gets the question signed with it, and its reply counts only
if it is signed with the same key and verifies (dnspython checks that): a refusal (BADKEY,
BADSIG, BADTIME), an unsigned or badly signed reply are reported for that agent by key name,
never with the secret. A secret file is read here, at question time, so only the process that
asks needs access to it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.flags
import dns.name
import dns.rcode
import dns.tsig

from signwire.parent.agents import (
    AgentResult,
    Answer,
    DsRdata,
    Observation,
    QueryError,
    agent_label,
    ds_query,
    observe,
)
from signwire.policy.agents import decode_secret
from signwire.policy.model import ParentalAgent, TsigKey

DEFAULT_TIMEOUT = 3.0  # seconds per try (and again for the TCP retry of a truncated reply)
DEFAULT_TRIES = 2  # a lost UDP datagram should not make an agent look down


async def ask_agent(
    zone: bytes | str | dns.name.Name,
    agent: ParentalAgent,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    tries: int = DEFAULT_TRIES,
) -> AgentResult:
    """One agent's reply to the DS question, or why there is none."""
    key: dns.tsig.Key | None = None
    if agent.tsig is not None:
        try:
            key = tsig_key(agent.tsig)
        except TsigSetupError as e:
            return QueryError(str(e))
    reason = "not asked"
    for _ in range(max(1, tries)):
        query = ds_query(zone)  # a fresh ID (and TSIG time) for every try
        if key is not None:
            query.use_tsig(key)
        try:
            response, tcp = await dns.asyncquery.udp_with_fallback(
                query, agent.address, timeout=timeout, port=agent.port, ignore_unexpected=True
            )
        except dns.exception.Timeout:
            reason = f"no answer within {timeout:g} s"
            continue  # UDP may have lost it: try again
        except ConnectionRefusedError:
            return QueryError(f"connection refused: nothing listening on port {agent.port}?")
        except EOFError:
            return QueryError("the server closed the TCP connection without answering")
        except OSError as e:
            return QueryError(f"network error: {e.strerror or e}")
        except (
            dns.tsig.PeerError,
            dns.tsig.BadSignature,
            dns.tsig.BadKey,
            dns.tsig.BadTime,
            dns.tsig.BadAlgorithm,
        ) as e:
            assert agent.tsig is not None
            return QueryError(tsig_failure(agent.tsig, e))
        except dns.exception.FormError as e:
            if agent.tsig is not None and "TSIG" in str(e):
                return QueryError(
                    f"TSIG key {agent.tsig.name}: the reply is not signed; it is not trusted "
                    f"(does the agent know the key?)"
                )
            return QueryError(f"malformed or unexpected reply: {e}")
        except dns.exception.DNSException as e:
            return QueryError(f"malformed or unexpected reply: {e}")
        return Answer(response, tcp)
    if tries > 1:
        reason += f" ({tries} tries)"
    return QueryError(reason)


async def ask_agents(
    zone: bytes | str | dns.name.Name,
    agents: Sequence[ParentalAgent],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    tries: int = DEFAULT_TRIES,
) -> dict[ParentalAgent, AgentResult]:
    """Every agent's reply, asked in parallel; one entry per agent, in the policy's order."""
    unique = list(dict.fromkeys(agents))
    results = await asyncio.gather(
        *(ask_agent(zone, agent, timeout=timeout, tries=tries) for agent in unique)
    )
    return dict(zip(unique, results, strict=True))


def check_parent(
    zone: bytes | str | dns.name.Name,
    expected: Mapping[str, Sequence[DsRdata]],
    agents: Sequence[ParentalAgent],
    *,
    parent_ds_ttl: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    tries: int = DEFAULT_TRIES,
) -> Observation:
    """Ask every agent and read the replies: the whole ``key check-ds`` for a caller without an
    event loop (the daemon awaits :func:`ask_agents` and calls ``observe`` itself)."""
    answers = asyncio.run(ask_agents(zone, agents, timeout=timeout, tries=tries))
    return observe(zone, expected, answers, parent_ds_ttl=parent_ds_ttl)


class TsigSetupError(Exception):
    """The TSIG key of an agent cannot be used (its secret file is missing or unreadable)."""


_SECRET_IN_CONFIG = re.compile(r"""secret\s*[:=]?\s*"?([A-Za-z0-9+/=\s]+?)"?\s*;?\s*$""", re.M)


def tsig_key(key: TsigKey) -> dns.tsig.Key:
    """The dnspython key for a policy's :class:`TsigKey`, reading its secret file if it has
    one: the base64 secret alone, a BIND ``key`` clause (``tsig-keygen``) or a Knot ``key:``
    section (``keymgr -t``). Errors name the key and the file, never the secret."""
    secret = key.secret
    if secret is None:
        assert key.secret_file is not None
        try:
            text = Path(key.secret_file).read_text(encoding="ascii", errors="replace")
        except OSError as e:
            raise TsigSetupError(
                f"TSIG key {key.name}: cannot read secret-file {key.secret_file}: {e.strerror or e}"
            ) from None
        found = _SECRET_IN_CONFIG.search(text)
        try:
            secret = decode_secret(found.group(1) if found else text.strip())
        except ValueError as e:
            raise TsigSetupError(
                f"TSIG key {key.name}: the secret in {key.secret_file} {e}"
            ) from None
    return dns.tsig.Key(key.name, secret, key.algorithm)


def tsig_failure(key: TsigKey, error: Exception) -> str:
    """What a TSIG error means, for the agent's line in a report."""
    said = {
        dns.tsig.PeerBadKey: "the agent does not know this key name and algorithm (BADKEY)",
        dns.tsig.PeerBadSignature: "the agent's secret for it is another one (BADSIG)",
        dns.tsig.PeerBadTime: "the agent's clock and ours differ by more than the fudge (BADTIME)",
        dns.tsig.BadSignature: "the reply's signature does not verify: not trusted",
        dns.tsig.BadKey: "the reply is signed with another key: not trusted",
        dns.tsig.BadAlgorithm: "the reply is signed with another algorithm: not trusted",
        dns.tsig.BadTime: "the reply's signing time is off by more than the fudge: not trusted",
    }
    for kind, text in said.items():
        if isinstance(error, kind):
            return f"TSIG key {key.name} refused: {text}"
    return f"TSIG key {key.name}: {type(error).__name__} {error}".rstrip()


def describe(answers: Mapping[ParentalAgent, AgentResult]) -> list[str]:
    """One line per agent for logs and ``check-ds -v``: transport, rcode, flags, answer size."""
    lines = []
    for agent, result in answers.items():
        if isinstance(result, QueryError):
            lines.append(f"{agent_label(agent)}: {result.reason}")
            continue
        r = result.response
        rcode = dns.rcode.to_text(r.rcode())
        flags = dns.flags.to_text(r.flags)
        count = sum(len(rrset) for rrset in r.answer)
        lines.append(
            f"{agent_label(agent)}: {rcode} flags {flags} answer {count} record(s) "
            f"over {'TCP' if result.tcp else 'UDP'}"
        )
    return lines
