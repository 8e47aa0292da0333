"""Subcommands of the `xsuite` CLI: each module defines `command`."""
