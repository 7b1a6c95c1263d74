"""The local control socket shared by ``signwire serve`` and the operator's commands."""
