"""Key-and-signing policies: the model (:mod:`.model`), RFC 7583 waiting times
(:mod:`.intervals`), the shipped ``default`` (:mod:`.default`) and TOML reading with the checks
that refuse a policy that cannot work (:mod:`.parse`)."""

from signwire.policy.model import Policy, PolicyError

__all__ = ["Policy", "PolicyError"]
