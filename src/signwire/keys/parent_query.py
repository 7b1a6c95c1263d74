"""Ask the parental agents for a zone's DS RRset: the thin I/O shell around :mod:`.parent`.

Each agent gets the question of :func:`signwire.keys.parent.ds_query` over UDP, and again over
TCP when the reply is truncated (RFC 7766 §5), all agents at once. Only the addresses and ports
the policy lists are asked; no name is resolved. A failure of one agent (timeout, nothing
listening, a malformed reply) becomes a :class:`~signwire.keys.parent.QueryError` for that agent,
never an exception, so :func:`~signwire.keys.parent.observe` can say which agent failed and how.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import dns.asyncquery
import dns.exception
import dns.flags
import dns.name
import dns.rcode

from signwire.keys.parent import (
    AgentResult,
    Answer,
    DsRdata,
    Observation,
    QueryError,
    agent_label,
    ds_query,
    observe,
)
from signwire.policy.model import ParentalAgent

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
    reason = "not asked"
    for _ in range(max(1, tries)):
        query = ds_query(zone)  # a fresh ID for every try
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
