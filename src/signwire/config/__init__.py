"""The daemon's configuration: one TOML file read into frozen dataclasses (see ``parse``)."""
