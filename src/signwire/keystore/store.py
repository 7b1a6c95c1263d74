"""Where a zone's private keys live, as the rest of signwire sees it.

Two stores implement :class:`KeyStore`: key files in a folder (:mod:`signwire.keystore.file_store`,
the default) and a PKCS#11 token (:mod:`signwire.keystore.pkcs11_store`, an HSM; SoftHSM in tests).
:class:`~signwire.storage.state.StoreConfig` says which, and the state remembers it, so that
commands run later (``signwire key ds``) reopen the same store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from signwire.errors import KeyStoreError
from signwire.keystore.model import ZoneKey
from signwire.policy.model import KeyRole
from signwire.storage.state import StoreConfig


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

    def set_aside_incomplete(self, origin: bytes) -> list[str]:
        """Take out half-written keys a killed run left (never usable); what was done."""
        ...

    def set_aside(self, key: ZoneKey) -> str:
        """Take a key that no state records out of the zone's keys, without destroying it
        (an interrupted run made it and never published it); returns where it went."""
        ...


def open_store(config: StoreConfig) -> KeyStore:
    if config.kind == "files" and config.directory is not None:
        from signwire.keystore.file_store import FileKeyStore

        return FileKeyStore(Path(config.directory))
    if config.kind == "pkcs11" and config.module and config.token:
        try:
            from signwire.keystore.pkcs11_store import Pkcs11KeyStore
        except ImportError as e:  # the optional "hsm" extra
            raise KeyStoreError(
                f"PKCS#11 keys need python-pkcs11 (pip install 'signwire[hsm]'): {e}"
            ) from None
        return Pkcs11KeyStore.from_pin_source(
            config.module, config.token, pin_file=config.pin_file, pin_env=config.pin_env
        )
    raise KeyStoreError(f"unusable key store configuration: {config.to_json()}")
