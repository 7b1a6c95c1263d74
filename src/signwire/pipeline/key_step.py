"""One enforcer step for one zone, with the key material kept in step with its decisions.

The enforcer (:mod:`signwire.keys.enforcer`) is pure: it says which keys should exist and which
records each key has in the zone. This module does what it asks of the outside world, in the
order that keeps every moment safe:

1. run the enforcer with the reports waiting in the state (DS seen or gone, operator rolls);
2. make the key material of every key it created, and note each key's tag;
3. hand the signer the keys to publish and sign with (:class:`SigningKeys`);
4. once the signed zone is on disk (not yet renamed into place): save the new key states
   together with the name of that file (:meth:`KeyStep.commit`); the caller then renames it,
   and the material of keys the enforcer deleted is retired (no record of them is cached).

If anything fails before step 4, nothing is saved, and the next run starts from the same states;
the keys step 2 made were never published, and :meth:`KeyStep.set_aside_new_keys` (or, after a
crash, :func:`tidy_key_store` at the next start) takes them out of the key store. A zone the
state does not know is started afresh only when nothing says it was signed before
(:func:`signed_before`): a lost state must not silently re-key a zone whose DS is at the parent.

A policy without keys takes the zone insecure over several such steps; once no key is left,
:attr:`SigningKeys.unsigned` tells the signer to write the zone without any DNSSEC record.
:func:`insecure_switch_problem` refuses the switch to such a policy when it would wait less for
the DS to leave caches than the zone's own policy said the parent needs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from signwire.durations import format_duration
from signwire.errors import KeyStoreError
from signwire.keys import enforcer
from signwire.keys.keystate import KeyState, RecordState, RecordType
from signwire.keys.plan import (
    ActionKind,
    DsGone,
    DsSeen,
    Event,
    KeyCompromised,
    Plan,
    RollKey,
    insecure_status,
)
from signwire.keystore.model import ZoneKey
from signwire.keystore.store import KeyStore, open_store
from signwire.policy import algorithms, intervals
from signwire.policy.model import KeyRole, Policy
from signwire.signing.keyset import SigningKeys
from signwire.storage.state import Publication, StateStore, StoreConfig
from signwire.zones import names

# "ds-gone" is the operator's word, "ds-gone-checked" what the parental agents showed.
PENDING_KINDS = ("ds-seen", "ds-gone", "ds-gone-checked", "roll", "compromised")


@dataclass(slots=True)
class KeyStep:
    zone: str
    policy: Policy
    plan: Plan
    keys: SigningKeys
    material: dict[str, ZoneKey]  # key id -> key, for every key the states mention
    applied: list[int]  # pending reports this step consumed
    store: KeyStore
    store_config: StoreConfig
    messages: list[str] = field(default_factory=list)
    known: set[str] = field(default_factory=set)  # key ids the state held before this step

    @property
    def ds_keys(self) -> tuple[ZoneKey, ...]:
        """The keys whose DS the parent should publish now."""
        return tuple(self.material[i] for i in self.plan.instructions(self.policy).ds)

    def next_event_text(self) -> str:
        at = self.plan.next_event_at
        if at is None:
            blocked = sorted({w.reason for w in self.plan.waits if w.until is None})
            if not blocked:
                return "none scheduled"
            parent = [r for r in blocked if "parent" in r]
            return f"none scheduled ({'; '.join(parent or blocked)})"
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        reasons = sorted({w.reason for w in self.plan.waits if w.until == at})
        return when + (f" ({'; '.join(reasons)})" if reasons else "")

    def commit(
        self,
        state: StateStore,
        now: int,
        serial: int | None,
        publication: Publication | None = None,
    ) -> None:
        """Save the states (call once the signed zone is safely on disk, with ``publication``
        naming it when it is not yet in place)."""
        state.save(
            self.zone,
            now=now,
            keys=self.plan.keys,
            policy=self.policy.name,
            key_store=self.store_config,
            policy_file=(
                None
                if self.policy.source.startswith("<")
                else str(Path(self.policy.source).resolve())
            ),
            next_event_at=self.plan.next_event_at,
            serial=serial,
            messages=self.messages,
            applied=self.applied,
            publication=publication,
        )

    def retire_deleted(self) -> None:
        """Retire the material of keys the enforcer deleted (after :meth:`commit`; a crash
        before this is finished by :func:`tidy_key_store`)."""
        for action in self.plan.actions:
            if action.kind is ActionKind.DELETE_KEY and action.key_id in self.material:
                self.store.retire(self.material[action.key_id])

    @property
    def new_keys(self) -> list[ZoneKey]:
        """The keys this step created (not yet recorded in any state)."""
        made = {k.key_id for k in self.plan.keys} - self.known
        return [self.material[i] for i in sorted(made) if i in self.material]

    def set_aside_new_keys(self) -> list[str]:
        """After a failure before :meth:`commit`: the keys this step made were never
        published; take them out of the key store instead of leaving them unrecorded."""
        out = []
        for key in self.new_keys:
            where = self.store.set_aside(key)
            out.append(f"key {key.key_tag} made by this run was never published: moved to {where}")
        return out

    def submit_ds(self) -> str | None:
        """Hand the DS RRset the parent should now have to the policy's submission command,
        when this step changed it. Returns what happened, for the log; raises DsSubmitError."""
        command = self.policy.parent.ds_submit_command
        changed = any(
            a.kind in (ActionKind.SUBMIT_DS, ActionKind.WITHDRAW_DS) for a in self.plan.actions
        )
        if not command or not changed:
            return None
        from signwire.parent.submit import submit_ds
        from signwire.signing.apex import ds_rdata

        records = [
            ds_rdata(k.origin, k.dnskey_rdata, k.key_tag, k.algorithm, digest)
            for k in self.ds_keys
            for digest in self.policy.parent.digest_types
        ]
        submit_ds(command, self.zone, records, ttl=self.policy.timing.parent_ds_ttl)
        return f"submitted {len(records)} DS record(s) with {command[0]}"


def zone_name(origin: bytes) -> str:
    return names.to_text(names.lower(origin))


def events_from_pending(
    pending: list[tuple[int, str, str, int]], states: list[KeyState]
) -> tuple[list[Event], list[int]]:
    by_id = {k.key_id for k in states}
    events: list[Event] = []
    used: list[int] = []
    for row_id, kind, arg, _at in pending:
        if kind == "roll":
            events.append(RollKey(KeyRole(arg)))
        elif arg in by_id and kind == "ds-seen":
            events.append(DsSeen(arg))
        elif arg in by_id and kind == "ds-gone":
            events.append(DsGone(arg, operator=True))
        elif arg in by_id and kind == "ds-gone-checked":
            events.append(DsGone(arg))
        elif arg in by_id and kind == "compromised":
            events.append(KeyCompromised(arg))
        used.append(row_id)
    return events, used


def step(
    policy: Policy, origin: bytes, state: StateStore, now: int, config: StoreConfig
) -> KeyStep:
    """Steps 1 to 3 above: nothing is saved until :meth:`KeyStep.commit`."""
    zone = zone_name(origin)
    store = open_store(config)
    states = state.key_states(zone)
    events, applied = events_from_pending(state.pending(zone), states)
    plan = enforcer.advance(policy, states, now, events=events)

    on_disk = {(k.algorithm, k.key_tag): k for k in store.keys_for(origin)}
    new_states: list[KeyState] = []
    material: dict[str, ZoneKey] = {}
    messages: list[str] = []
    for key in plan.keys:
        zk: ZoneKey | None = None
        if key.tag is None:
            zk = store.create(origin, key.algorithm, key.role, now, bits=key.size)
            key = dataclasses.replace(key, tag=zk.key_tag)
            messages.append(
                f"created {key.role.value.upper()} {zk.key_tag}"
                f" ({algorithms.mnemonic(key.algorithm)}) as {key.key_id}"
            )
        else:
            zk = on_disk.get((key.algorithm, key.tag))
            if zk is None:
                raise KeyStoreError(
                    f"key {key.tag} ({key.key_id}) of {zone} is in the state but not in"
                    f" {store.where}; restore it from a backup"
                )
        material[key.key_id] = dataclasses.replace(zk, role=key.role)
        new_states.append(key)
    plan = dataclasses.replace(plan, keys=tuple(new_states))
    # Keys the enforcer deleted are no longer in the plan; their material is retired at commit.
    before = {k.key_id: k for k in states}
    for action in plan.actions:
        gone = before.get(action.key_id)
        if action.kind is ActionKind.DELETE_KEY and gone is not None and gone.tag is not None:
            found = on_disk.get((gone.algorithm, gone.tag))
            if found is not None:
                material[gone.key_id] = found
    # keys the enforcer just deleted are no longer in the plan, but their moves are reported
    tags = {k.key_id: k.tag for k in (*states, *new_states)}
    messages.extend(_describe(plan, tags))

    view = plan.instructions(policy)

    def pick(ids: tuple[str, ...]) -> tuple[ZoneKey, ...]:
        return tuple(material[i] for i in ids)

    keys = SigningKeys(
        published=pick(view.dnskey),
        key_signers=pick(view.dnskey_signers),
        zone_signers=pick(view.zone_signers),
        cds=pick(view.cds),
        cdnskey=pick(view.cdnskey),
        cds_digests=view.cds_digest_types,
        cds_delete=view.cds_delete,
    )
    status = insecure_status(policy, plan.keys)
    if status is not None:
        messages.append(status)
    return KeyStep(
        zone,
        policy,
        plan,
        keys,
        material,
        applied,
        store,
        config,
        messages,
        known={k.key_id for k in states},
    )


def tidy_key_store(state: StateStore, origin: bytes, store: KeyStore) -> list[str]:
    """Keys in the store that the state does not hold: finish retiring the ones the state
    once recorded (a run stopped between saving and retiring), and set aside the ones it never
    recorded (a run stopped between making a key and saving: never published)."""
    zone = zone_name(origin)
    current = {(k.algorithm, k.tag) for k in state.key_states(zone)}
    recorded = state.recorded_keys(zone)
    out = store.set_aside_incomplete(origin)
    for key in store.keys_for(origin):
        ident = (key.algorithm, key.key_tag)
        if ident in current:
            continue
        if ident in recorded:
            store.retire(key)
            out.append(
                f"key {key.key_tag}: retired (deleted by an earlier run that stopped "
                "before moving it)"
            )
        else:
            where = store.set_aside(key)
            out.append(
                f"warning: key {key.key_tag} ({algorithms.mnemonic(key.algorithm)}) is in "
                f"{store.where} but not in the state: a run that was stopped made it and never "
                f"published it; moved to {where}. If the state was restored from a backup "
                "older than this key, stop and restore a newer one"
            )
    return out


def signed_before(policy: Policy, origin: bytes, store: KeyStore, output: str | None) -> list[str]:
    """Evidence that a zone the state does not know was signed before: keys for it in the key
    store, a signed version at the output, a DS at the parental agents. Each is a reason not
    to start it afresh with new keys (the state may be lost, restored wrongly, or mistyped)."""
    evidence = []
    keys = store.keys_for(origin)
    if keys:
        tags = ", ".join(str(k.key_tag) for k in keys)
        evidence.append(f"the key store {store.where} holds keys for it (tags {tags})")
    if output and output != "-" and _looks_signed(Path(output)):
        evidence.append(f"{output} holds a signed version of it")
    agents = policy.parent.parental_agents
    if agents:
        from signwire.parent.query import check_parent

        # No key is expected: every DS the agents serve comes back as "unknown".
        seen = check_parent(origin, {}, agents, parent_ds_ttl=policy.timing.parent_ds_ttl)
        if seen.unknown_ds:
            evidence.append(f"its parental agents serve a DS for it ({seen.unknown_ds[0]})")
    return evidence


def _looks_signed(path: Path) -> bool:
    """Whether the start of an existing zone file holds DNSSEC signatures (signwire writes
    the apex, with its RRSIGs, first; other signers do too)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    return b"RRSIG" in head


def insecure_switch_problem(
    previous: Policy | None, policy: Policy, states: list[KeyState]
) -> str | None:
    """Why switching a zone from ``previous`` to the keyless ``policy`` is unsafe, or None.

    Going insecure, the one wait that keeps validators safe is the DS's: after the parent is
    seen without it, parent-ds-ttl + parent-propagation-delay + retire-safety before the
    DNSKEYs and signatures may go. A policy that waits less than the zone's own one did would
    strip the zone while resolvers may still hold the DS, and fail it.
    """
    if previous is None or not policy.insecure or previous.name == policy.name:
        return None
    if all(k.state(RecordType.DS) is RecordState.HIDDEN for k in states):
        return None  # no DS anywhere: nothing to wait for
    mine, theirs = intervals.ds_retire(policy), intervals.ds_retire(previous)
    if mine >= theirs:
        return None
    return (
        f"policy {policy.name!r} waits {format_duration(mine)} for a withdrawn DS to leave "
        f"caches, but the zone's policy {previous.name!r} says the parent needs "
        f"{format_duration(theirs)} "
        f"(parent-ds-ttl + parent-propagation-delay + retire-safety); go insecure under a "
        f'policy based on it instead: a [policy.NAME] table with based-on = "{previous.name}" '
        f'and keys = "none"'
    )


def _describe(plan: Plan, tags: dict[str, int | None]) -> list[str]:
    out = []
    for t in plan.transitions:
        change = f"{t.record.value} {t.old.value} -> {t.new.value}"
        out.append(f"key {tags.get(t.key_id)} ({t.key_id}): {change}")
    for a in plan.actions:
        if a.kind is ActionKind.SUBMIT_DS:
            out.append(f"key {tags.get(a.key_id)}: the parent should now publish its DS")
        elif a.kind is ActionKind.WITHDRAW_DS:
            out.append(f"key {tags.get(a.key_id)}: the parent should now remove its DS")
        elif a.kind is ActionKind.DELETE_KEY:
            out.append(
                f"key {tags.get(a.key_id)}: no longer cached anywhere; retiring it from the key "
                "store"
            )
    out.extend(plan.notices)
    return out
