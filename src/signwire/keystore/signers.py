"""A signing function for any key, whichever store holds it.

The signer only ever holds a :class:`~signwire.keystore.model.SignerSpec`; a worker turns it into
a function here, once, and calls that function once per RRset.
"""

from __future__ import annotations

from signwire.keystore.crypto import Signer, load_pkcs8_signer
from signwire.keystore.model import SignerSpec


def load_signer(spec: SignerSpec, *, deterministic: bool = False) -> Signer:
    """A function that returns the RRSIG signature field of ``data`` for ``spec``'s key.

    ``deterministic`` asks for RFC 6979 ECDSA nonces; KeyStoreError where that is impossible.
    """
    if spec.kind == "pkcs11":
        # Imported here: python-pkcs11 is the optional "hsm" extra, and each worker process
        # opens its own token session (SoftHSM crashes when processes share one).
        from signwire.keystore.pkcs11_store import load_pkcs11_signer

        return load_pkcs11_signer(spec, deterministic=deterministic)
    return load_pkcs8_signer(spec, deterministic=deterministic)
