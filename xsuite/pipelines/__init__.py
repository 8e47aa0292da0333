"""Pipelines: config → readers → computation → results file, one function per experiment.

The CLI, the watcher, the batch runner and the notebooks call these same functions. Each module also has a
``demo`` (``xs.pipelines.gixrd.demo``...).

Every name below is importable from this package (``xs.pipelines.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.pipelines.gixrd` — GIXRD pipeline: image series -> |q| patterns vs time -> hydrate peak tracking, kinetics, depth table

* ``run_gixrd`` — Reduce one GIXRD series (one sample, one incidence angle) into the results file
* ``run_gixrd_series`` — Run :func:`run_gixrd` for several (sample, incidence angle) series into one results file

:mod:`xsuite.pipelines.xrd` — Transmission XRD pipeline: images -> 1D patterns (q, d, 2θ, 2θ Cu Kα) -> peaks, phases, comparisons

* ``run_xrd`` — Reduce transmission XRD images into the results file and compare the samples
* ``XrdSummary`` — Headline of an xrd run: ``{"output", "files": [...], "rejected", "comparison", "warnings"}``

:mod:`xsuite.pipelines.xanes` — XANES pipeline: raw scans → µ(E) → calibration → merge → normalisation → LCF → results store

* ``run_xanes`` — Run the XANES pipeline on a set of positions and write the results
* ``run_xanes_map`` — Per-pixel normalisation and LCF of a raw XANES image stack, written to the results store
* ``XanesRun`` — Result of :func:`run_xanes`
* ``XanesMapRun`` — Result of :func:`run_xanes_map`: the chemical map plus what the figure and JSON need

:mod:`xsuite.pipelines.xrf` — µXRF pipeline: config → readers → normalisation → layer analysis or map export → NeXus store

* ``run_xrf`` — Analyse one reference/layer map pair (or export maps, ``maps_only``) into the results file
* ``run_xrf_maps`` — Export element maps (quantified or I0-normalised, with errors) without a layer analysis
* ``run_xrf_config`` — Run every sample of a config's ``xrf.samples``; returns their JSON records
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['gixrd', 'xrd', 'xanes', 'xrf'],
    submod_attrs={
        'gixrd': [
            'run_gixrd', 'run_gixrd_series'
        ],
        'xrd': [
            'run_xrd', 'XrdSummary'
        ],
        'xanes': [
            'run_xanes', 'run_xanes_map', 'XanesRun', 'XanesMapRun'
        ],
        'xrf': [
            'run_xrf', 'run_xrf_maps', 'run_xrf_config'
        ],
    },
)
