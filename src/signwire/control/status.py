"""``signwire status`` as text: one block per zone, from the daemon's status answer."""

from __future__ import annotations

import time
from typing import Any


def _when(at: Any, now: int) -> str:
    if not isinstance(at, int):
        return "-"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    delta = at - now
    return f"{stamp} ({'in ' if delta >= 0 else ''}{abs(delta)} s{'' if delta >= 0 else ' ago'})"


def format_status(status: dict[str, Any]) -> str:
    now = int(status.get("now", 0))
    lines = []
    for z in status.get("zones", []):
        state = z.get("state", "?")
        flag = "  <-- STALE: upstream expired, still served" if state == "stale" else ""
        lines.append(f"{z.get('zone')}: {state}{flag}")
        lines.append(f"  serving: {'yes' if z.get('serving') else 'NO'}, signed serial "
                     f"{z.get('served_serial')}, input serial {z.get('input_serial')} from "
                     f"{z.get('input_from') or '-'}")
        up = z.get("upstream")
        if up:
            lines.append(f"  upstream: last success {_when(up.get('last_success'), now)}, "
                         f"expires {_when(up.get('expires_at'), now)}, next check "
                         f"{_when(up.get('next_check'), now)}, failures {up.get('failures')}")
            if up.get("last_error"):
                lines.append(f"  last refresh error: {up['last_error']}")
        lines.append(f"  earliest signature expiry: "
                     f"{_when(z.get('earliest_signature_expiry'), now)}")
        lines.append(f"  next event: {_when(z.get('next_event'), now)}")
        if z.get("last_error"):
            lines.append(f"  last error: {z['last_error']}")
        for ds in z.get("ds", []):
            lines.append(f"  {ds}")
        for peer, info in sorted(z.get("secondaries", {}).items()):
            lines.append(f"  secondary {peer}: {info}")
    return "\n".join(lines) + ("\n" if lines else "no zones\n")
