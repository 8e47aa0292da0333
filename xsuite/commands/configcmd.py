"""``xsuite config FILE.yaml``: validate a beamline config and print its resolved values."""

from __future__ import annotations

from pathlib import Path

import click

from xsuite.commands.common import emit_json, json_option


@click.command("config")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def command(config_file: Path, as_json: bool) -> None:
    """Check CONFIG_FILE; print its values with relative paths resolved (exit 2 on any error)."""
    from xsuite.config import load_config

    cfg = load_config(config_file)
    doc = cfg.model_dump(mode="json", exclude_none=True)
    if as_json:
        emit_json(doc)
    else:
        import yaml

        click.echo(f"# {config_file}: valid ({cfg.technique}, {cfg.beamline})")
        click.echo(yaml.safe_dump(doc, sort_keys=False).rstrip())
