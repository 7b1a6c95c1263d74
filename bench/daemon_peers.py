"""The signers of ``bench/daemon.py`` that tests/interop/peers.py has no class for: knotd as an
automatic DNSSEC signer (one zone from a primary, or many zones from zone files), and
``signwire serve`` with many zone-file zones. The primary (knotd), the BIND secondaries and
``signwire serve`` of one transferred zone are the test suite's own classes, imported from
``interop.peers``; so are the process handling (start in the foreground, log to a file, SIGTERM
then SIGKILL by the child's own process id) and the polls.

Both signers get the same policy: ECDSAP256SHA256 KSK + ZSK, NSEC, signatures valid 30 days
with no jitter, no CDS/CDNSKEY, the zone never written back to a file (Knot:
``zonefile-sync: -1``; signwire keeps its signed versions in its state directory).
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from interop.peers import Peer, TsigKey  # noqa: E402
from interop.verifiers import require_program  # noqa: E402

# signwire's policy for the benchmark: what Knot's policy below says, in signwire's words.
SIGNWIRE_POLICY = """\
denial = "nsec"
signature-validity = "30d"
signature-jitter = "0s"
cds = false
cdnskey = false
"""

KNOT_POLICY = """\
policy:
  - id: bench
    algorithm: ecdsap256sha256
    ksk-size: 256
    zsk-size: 256
    single-type-signing: off
    nsec3: off
    rrsig-lifetime: 30d
    rrsig-refresh: 7d
    cds-cdnskey-publish: none
    signing-threads: {threads}
"""


def _user() -> str:
    return f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"


class KnotSigner(Peer):
    """knotd signing ``zones`` automatically. With ``primary`` (address, port): each zone is a
    secondary zone of it (NOTIFY accepted from it, IXFR in, the journal keeps the changes, which
    Knot signs incrementally); without: each zone is read from ``<zone>zone`` in ``zone_dir``.
    Secondaries: NOTIFY to ``secondaries``, transfers to 127.0.0.1 with ``key``."""

    name = "knot-signer"

    def __init__(
        self,
        workdir: Path,
        address: str,
        port: int,
        key: TsigKey,
        zones: Sequence[str],
        *,
        primary: tuple[str, int] | None = None,
        secondaries: Sequence[tuple[str, int]] = (),
        zone_dir: Path | None = None,
        threads: int = 2,
    ) -> None:
        super().__init__(workdir)
        self.knotd = require_program("knotd")
        self.knotc = require_program("knotc")
        self.address = address
        self.port = port
        self.key = key
        self.zones = list(zones)
        self.primary = primary
        self.secondaries = list(secondaries)
        self.zone_dir = zone_dir
        self.threads = threads
        self.config = workdir / "knot.conf"

    def write_config(self) -> None:
        w = self.workdir
        (w / "db").mkdir(exist_ok=True)
        (w / "zones").mkdir(exist_ok=True)
        remotes = []
        if self.primary is not None:
            remotes.append(
                f"  - id: primary\n    address: {self.primary[0]}@{self.primary[1]}\n"
                f"    key: {self.key.name}\n"
            )
        for i, (addr, port) in enumerate(self.secondaries, 1):
            remotes.append(
                f"  - id: secondary{i}\n    address: {addr}@{port}\n"
                f"    via: {self.address}\n    key: {self.key.name}\n"
            )
        acls = [
            f"  - id: transfer-out\n    address: 127.0.0.1\n    key: {self.key.name}\n"
            "    action: transfer\n"
        ]
        zone_acls = ["transfer-out"]
        if self.primary is not None:
            acls.append(
                f"  - id: notify-in\n    address: {self.primary[0]}\n"
                f"    key: {self.key.name}\n    action: notify\n"
            )
            zone_acls.append("notify-in")
        storage = self.zone_dir if self.zone_dir is not None else w / "zones"
        zone_opts = f"    acl: [{', '.join(zone_acls)}]\n"
        if self.primary is not None:
            zone_opts += "    master: primary\n"
        if self.secondaries:
            names = ", ".join(f"secondary{i}" for i in range(1, len(self.secondaries) + 1))
            zone_opts += f"    notify: [{names}]\n"
        text = f"""\
server:
    rundir: "{w}"
    listen: {self.address}@{self.port}
    user: {_user()}
    udp-workers: 2
    tcp-workers: 2
    background-workers: {self.threads}
database:
    storage: "{w}/db"
control:
    listen: "{w}/knot.sock"
log:
  - target: stderr
    any: info
key:
  - id: {self.key.name}
    algorithm: {self.key.algorithm}
    secret: {self.key.secret}
"""
        if remotes:
            text += "remote:\n" + "".join(remotes)
        text += "acl:\n" + "".join(acls)
        text += KNOT_POLICY.format(threads=self.threads)
        text += f"""\
template:
  - id: default
    storage: "{storage}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: {"none" if self.primary is not None else "whole"}
    journal-content: changes
    semantic-checks: off
    dnssec-signing: on
    dnssec-policy: bench
{zone_opts}zone:
"""
        text += "".join(f"  - domain: {z}\n" for z in self.zones)
        self.config.write_text(text)

    def check(self) -> None:
        """Write the configuration and have ``knotc conf-check`` read it (before the clock
        starts: with 10,000 zones that takes seconds)."""
        self.write_config()
        checked = subprocess.run(
            [self.knotc, "-c", str(self.config), "conf-check"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if checked.returncode != 0:
            raise RuntimeError(f"knotc conf-check: {checked.stdout}{checked.stderr}")

    def start(self) -> None:
        if not self.config.exists():
            self.check()
        self.spawn([self.knotd, "-c", str(self.config)])


class SignwireZones(Peer):
    """``signwire serve`` signing every zone of ``zones`` from ``<zone>zone`` in ``zone_dir``
    under the benchmark's policy, answering on ``address``:``port``."""

    name = "signwire-zones"

    def __init__(
        self, workdir: Path, address: str, port: int, zones: Sequence[str], zone_dir: Path
    ) -> None:
        super().__init__(workdir)
        self.address = address
        self.port = port
        self.zones = list(zones)
        self.zone_dir = zone_dir
        self.config = workdir / "signwire.toml"

    def write_config(self) -> None:
        (self.workdir / "policies.toml").write_text(f"[policy.bench]\n{SIGNWIRE_POLICY}")
        parts = [f'[server]\nlisten = ["{self.address}:{self.port}"]\nstate = "state"\n']
        for z in self.zones:
            parts.append(
                f'\n[[zone]]\nname = "{z}"\nfile = "{self.zone_dir / (z + "zone")}"\n'
                'policy = "bench"\npolicy-file = "policies.toml"\n'
            )
        self.config.write_text("".join(parts))

    def start(self) -> None:
        self.write_config()
        self.spawn([sys.executable, "-m", "signwire", "serve", "--config", str(self.config)])
