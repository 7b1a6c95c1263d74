"""Where a zone's private keys live, as the rest of signwire sees it.

Two stores implement :class:`KeyStore`: key files in a folder (:mod:`signwire.keys.filestore`,
the default) and a PKCS#11 token (:mod:`signwire.keys.pkcs11store`, an HSM; SoftHSM in tests).
:class:`StoreConfig` says which, without secrets, so the state can remember it and commands
run later (``signwire key ds``) reopen the same store. The PIN itself is never stored: only
the file or environment variable to read it from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from signwire.errors import KeyStoreError
from signwire.keys.model import KeyRole, ZoneKey


class KeyStore(Protocol):
    @property
    def where(self) -> str: ...

    def keys_for(self, origin: bytes) -> list[ZoneKey]: ...

    def create(
        self, origin: bytes, algorithm: int, role: KeyRole, now: int, bits: int | None = None
    ) -> ZoneKey: ...

    def retire(self, key: ZoneKey) -> None:
        """Take the key out of service for good (no record of it can be cached any more)."""
        ...

    def set_aside(self, key: ZoneKey) -> str:
        """Take a key that no state records out of the zone's keys, without destroying it
        (an interrupted run made it and never published it); returns where it went."""
        ...


@dataclass(frozen=True, slots=True)
class StoreConfig:
    kind: str  # "files" or "pkcs11"
    directory: str | None = None  # files
    module: str | None = None  # pkcs11: the module's path
    token: str | None = None  # pkcs11: the token's label
    pin_file: str | None = None
    pin_env: str | None = None

    @classmethod
    def files(cls, directory: str | Path) -> StoreConfig:
        return cls("files", directory=str(Path(directory).resolve()))

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoreConfig:
        return cls(**json.loads(text))


def open_store(config: StoreConfig) -> KeyStore:
    if config.kind == "files" and config.directory is not None:
        from signwire.keys.filestore import FileKeyStore

        return FileKeyStore(Path(config.directory))
    if config.kind == "pkcs11" and config.module and config.token:
        try:
            from signwire.keys.pkcs11store import Pkcs11KeyStore
        except ImportError as e:  # the optional "hsm" extra
            raise KeyStoreError(
                f"PKCS#11 keys need python-pkcs11 (pip install 'signwire[hsm]'): {e}"
            ) from None
        return Pkcs11KeyStore.from_pin_source(
            config.module, config.token, pin_file=config.pin_file, pin_env=config.pin_env
        )
    raise KeyStoreError(f"unusable key store configuration: {config.to_json()}")
