"""Diffraction series: one setup, one reducer, one writer and one session for every mode (batch, workers, Dask, watch).

Every name below is importable from this package (``xs.series.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.series.setup` — The frozen setup of a diffraction series: inputs validated and geometry resolved ONCE

* ``FrameSettings`` — What a series is, as the user states it: the config section plus the series identity
* ``SeriesSetup`` — Everything the frames of a series are reduced with, resolved once (see :func:`resolve_setup`)
* ``resolve_setup`` — Validate a series' inputs and resolve its geometry once

:mod:`xsuite.series.frames` — Frames of a series: discovery, and the per-frame reducer every mode runs

* ``FrameResult`` — What one frame reduces to
* ``FrameTask`` — A frame plus the optional 2D products wanted for it (the last frame's map, a single image's cake)
* ``FrameReducer`` — Picklable per-frame function: read -> orient -> integrate -> FrameResult (see the module doc)
* ``discover_series`` — FrameRefs of a series plus the files that could not even be opened (as rejected results)
* ``shift_interval_times`` — ``time_s`` counts from the start of air exposure: with interval timing the first slot is at ``start_time_s``, not 0 (frames timed from their metadata are left as they are)
* ``ref_key`` — Stable frame key: the FrameRef's, else ``"<file name>#<index>"``

:mod:`xsuite.series.writer` — Writing series into a results file: in place, SWMR, with the appended frames kept in memory

* ``ResultsFile`` — A results file shared by the series of one run (one SWMR appender at a time, one writer lock)
* ``SeriesWriter`` — The one writer of a series entry (see the module doc)
* ``FrameBuffer`` — The frames of a series held in memory (appended ones, plus stored ones when resuming)

:mod:`xsuite.series.session` — The one driver of diffraction series, used by every mode (batch, ``--workers``, Dask, watch, notebooks)

* ``SeriesSession`` — One series entry: setup, reducer, writer (base of :class:`GixrdSession` and :class:`XrdSession`)
* ``GixrdSession`` — A GIXRD series (one sample at one incidence angle): frames, then tracking, kinetics and depth
* ``XrdSession`` — One transmission sample: its frames (one or many), per-frame peak fits, mean pattern and its peaks
* ``Dispatch`` — Picklable per-item function over several sessions: ``(session key, FrameTask) -> (key, FrameResult)``
* ``reduce_into`` — Reduce frames on the chosen engine and append each result to its session, in input order
* ``pending_tasks`` — Tasks of the frames not stored yet (the last one flagged as the batch's last frame)
* ``analysis_options`` — :class:`~xsuite.diffraction.series.SeriesAnalysisOptions` of a series: the ``gixrd`` config's phase entries (built-in names, user CIF paths) resolved to phases here, once (CIFs are read here)
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['setup', 'frames', 'writer', 'session'],
    submod_attrs={
        'setup': [
            'FrameSettings', 'SeriesSetup', 'resolve_setup'
        ],
        'frames': [
            'FrameResult', 'FrameTask', 'FrameReducer', 'discover_series', 'shift_interval_times', 'ref_key'
        ],
        'writer': [
            'ResultsFile', 'SeriesWriter', 'FrameBuffer'
        ],
        'session': [
            'SeriesSession', 'GixrdSession', 'XrdSession', 'Dispatch', 'reduce_into', 'pending_tasks',
            'analysis_options'
        ],
    },
)
