"""``xsuite demo``: run every pipeline on the bundled sample data, then make the figures.

Writes ``<output>/results.h5`` (one NeXus file holding every pipeline's results) and
``<output>/figures/``. Each pipeline runs even when another one fails; the command then exits non-zero
naming the failure.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import Any

import click

from xsuite.commands.common import emit_json, json_option
from xsuite.errors import InputNotFoundError, XsuiteError

log = logging.getLogger(__name__)

# pipeline name -> (module exposing demo(sample_dir, output), sample_data sub-folder)
PIPELINES: dict[str, tuple[str, str]] = {
    "xrd": ("xsuite.pipelines.xrd", "xrd"),
    "gixrd": ("xsuite.pipelines.gixrd", "gixrd"),
    "xanes": ("xsuite.pipelines.xanes", "xanes"),
    "xrf": ("xsuite.pipelines.xrf", "xrf"),
}


def find_sample_data(explicit: Path | None = None) -> Path:
    """Locate the bundled ``sample_data`` folder (explicit, ./sample_data, or next to the package)."""
    candidates = [explicit] if explicit else [Path.cwd() / "sample_data",
                                               Path(__file__).resolve().parents[2] / "sample_data"]
    for cand in candidates:
        if cand is not None and cand.is_dir():
            return cand
    raise InputNotFoundError(
        f"sample_data folder not found (looked in {', '.join(str(c) for c in candidates if c)}); "
        "pass --sample-data DIR or run from the repository root"
    )


def run_demo(sample_dir: Path, out_dir: Path, formats: tuple[str, ...] = ("png",)) -> dict[str, Any]:
    """Run all pipelines on ``sample_dir`` into ``out_dir/results.h5`` and make the figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.h5"
    if results.exists():
        results.unlink()  # the demo always starts from a clean file
    doc: dict[str, Any] = {"results_file": str(results), "pipelines": {}, "errors": {}}
    for name, (module_name, sub) in PIPELINES.items():
        folder = sample_dir / sub
        if not folder.is_dir():
            doc["errors"][name] = f"no sample data folder {folder}"
            continue
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
            doc["pipelines"][name] = module.demo(folder, results)
        except (XsuiteError, ImportError, AttributeError) as exc:
            doc["errors"][name] = f"{type(exc).__name__}: {exc}"
            log.error("demo %s failed: %s", name, exc)
            continue
        log.warning("demo: %s done in %.1f s", name, time.perf_counter() - t0)
    if results.exists():
        from xsuite.figures import make_figures

        report = make_figures(results, out_dir / "figures", formats=formats)
        doc["figures"] = _jsonable_report(report)
    return doc


def _jsonable_report(report: Any) -> Any:
    if hasattr(report, "to_dict"):
        return report.to_dict()
    return report


@click.command("demo")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo_output"), show_default=True, help="Folder for results.h5 and figures/.")
@click.option("--sample-data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The sample_data folder (default: ./sample_data or the repository's).")
@click.option("--format", "formats", default="png", show_default=True, help="Figure formats, comma separated.")
@json_option
def command(output_dir: Path, sample_data: Path | None, formats: str, as_json: bool) -> None:
    """Run all pipelines on the bundled sample data: one results file + figures in OUTPUT_DIR."""
    sample_dir = find_sample_data(sample_data)
    doc = run_demo(sample_dir, output_dir, tuple(f.strip() for f in formats.split(",") if f.strip()))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"results: {doc['results_file']}")
        for name in doc["pipelines"]:
            click.echo(f"  {name}: ok")
        figs = doc.get("figures") or {}
        written = figs.get("written", []) if isinstance(figs, dict) else []
        click.echo(f"figures: {len(written)} written to {output_dir / 'figures'}")
        for skipped in (figs.get("skipped", []) if isinstance(figs, dict) else []):
            click.echo(f"  skipped: {skipped}")
    if doc["errors"]:
        raise XsuiteError("demo: " + "; ".join(f"{k}: {v}" for k, v in doc["errors"].items()))
