"""``xsuite config FILE.yaml``: validate a beamline config and print its resolved values.

Besides keys, types and ranges (checked when any command loads a config) it checks the disk: every file
the config names must exist and be a file (PONI, mask, standards ...), every phase must be known; the
resolved absolute paths are listed. Any problem is one line on stderr and exit status 2.
"""

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
    from xsuite.config.check import check_config, config_paths

    cfg = load_config(config_file)
    check_config(cfg)
    doc = cfg.model_dump(mode="json", exclude_none=True)
    paths = {k: str(v) for k, v in config_paths(cfg).items()}
    if as_json:
        emit_json({**doc, "resolved_paths": paths})
        return
    import yaml

    click.echo(f"# {config_file}: valid ({cfg.technique}, {cfg.beamline})")
    if paths:
        click.echo("# files (resolved against the config's folder; all exist):")
        for key, p in paths.items():
            click.echo(f"#   {key}: {p}")
    click.echo(yaml.safe_dump(doc, sort_keys=False).rstrip())
