"""``xsuite info FILE.h5``: a readable summary of a results file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from xsuite.commands.common import emit_json, json_option


def summarize(path: Path) -> dict[str, Any]:
    """Describe every entry of a results file: kind, plottable NXdata (shapes, axes), collections."""
    from xsuite.io.nexus import read_results

    res = read_results(path)
    entries = []
    for entry in res.entries.values():
        prov = entry.provenance
        entries.append(
            {
                "name": entry.name,
                "kind": entry.kind,
                "title": entry.title,
                "default": entry.default,
                "nxdata": {
                    name: {
                        "signal": d.signal_name,
                        "shape": list(np.shape(d.signal)),
                        "units": d.units.get(d.signal_name, ""),
                        "axes": d.axis_names,
                        "has_errors": d.errors is not None,
                    }
                    for name, d in entry.nxdata.items()
                },
                "collections": sorted(entry.collections),
                "program": f"{prov.program} {prov.version}" if prov else None,
                "inputs": len(prov.inputs) if prov else 0,
                "start_time": prov.start_time if prov else None,
                "end_time": prov.end_time if prov else None,
            }
        )
    return {"file": str(path), "default": res.default, "entries": entries}


def _print_text(doc: dict[str, Any]) -> None:
    click.echo(f"{doc['file']}  (default entry: {doc['default']})")
    if not doc["entries"]:
        click.echo("  no entries")
    for e in doc["entries"]:
        click.echo(f"\n[{e['kind'] or '?'}] {e['name']}: {e['title']}")
        click.echo(f"  written by {e['program']}, {e['inputs']} input file(s), {e['start_time']} .. {e['end_time']}")
        for name, d in e["nxdata"].items():
            mark = "*" if name == e["default"] else " "
            shape = "x".join(str(s) for s in d["shape"]) or "scalar"
            err = " ±" if d["has_errors"] else ""
            click.echo(f"  {mark} {name:<28} {d['signal']}{err} [{d['units']}] {shape}  axes: {', '.join(d['axes'])}")
        if e["collections"]:
            click.echo(f"    collections: {', '.join(e['collections'])}")


@click.command("info")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def command(results: Path, as_json: bool) -> None:
    """Summarise what the results file RESULTS holds (entries, plottable data, provenance)."""
    doc = summarize(results)
    if as_json:
        emit_json(doc)
    else:
        _print_text(doc)
