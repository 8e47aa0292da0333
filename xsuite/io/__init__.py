"""Readers and the results store: the only code that opens files.

Readers turn files into arrays plus metadata; :mod:`xsuite.io.nexus` writes and reads the NeXus results file.
``split_source`` exists in :mod:`~xsuite.io.images` (``file.h5::dataset``) and :mod:`~xsuite.io.spectra`
(``file::group`` or ``file:column``) with different rules: import it from the module you mean.

Every name below is importable from this package (``xs.io.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.io.images` — Diffraction frames: the only code in xsuite that opens detector images

* ``FrameRef`` — One frame of a series: where it is and when it was taken
* ``read_frame`` — Read one 2D frame
* ``iter_frames`` — Yield ``(index, frame)`` for every frame of a file; HDF5 stacks are opened once
* ``frame_count`` — Number of frames in a file (1 for single images)
* ``discover_frames`` — Find the frames of a series and order them by acquisition time
* ``discover_frames_checked`` — :func:`discover_frames` that records unreadable files instead of raising on the first one
* ``FrameFailure`` — A file of a series that could not be taken into it (see :func:`discover_frames_checked`)
* ``load_mask`` — Load a mask (nonzero = masked) from a fabio format, TIFF, ``.npy``, text or ``file.h5::/path``
* ``load_dark`` — Load a dark-current image (the mean of all frames in the file), float32, shape-checked
* ``load_flat`` — Load a flat-field image (mean of the file's frames), float32, shape-checked
* ``check_shape`` — Raise a one-line :class:`DataFormatError` when ``arr.shape != expected_shape``
* ``apply_orientation`` — Re-order an image (or a stack, last two axes) from one orientation to another
* ``orientation_for_flips`` — Orientation of an image that needs the given flips to match a geometry of ``geometry_orientation``
* ``poni_orientation`` — Detector orientation stated in a PONI file (``Detector_config: {
* ``is_frame_complete`` — True when ``path`` exists, is non-empty, keeps the same size over ``settle_s`` and reads cleanly
* ``is_frame_file`` — True when a folder scan should take ``path`` as a frame file (the rule of :func:`discover_frames`)
* ``linked_files`` — The files other than ``source`` itself that its image stack reads (Eiger data files of a master)
* ``lambda_acquisition`` — The Lambda acquisition a module file belongs to; None when ``path`` is not a Lambda module file
* ``LambdaAcquisition`` — The module files of one X-Spectrum Lambda acquisition (found from any one of them)
* ``close_cached_files`` — Close the HDF5 files :func:`read_frame` keeps open between calls
* ``frame_cache`` — Keep HDF5 image files open between :func:`read_frame` calls inside the block
* ``IMAGE_EXTENSIONS``

:mod:`xsuite.io.spectra` — Readers for XAS scans, standards libraries and XANES image stacks

* ``Scan`` — One scan as read from disk
* ``ColumnMap`` — Which columns hold which signal (None / empty = detect from :data:`VOCABULARY`)
* ``Channels`` — Validated arrays of one scan (offsets subtracted)
* ``Library`` — Candidate standards read from one file
* ``Stack`` — A XANES image stack: ``data[E, y, x]`` and, when the file holds them, the energies
* ``VOCABULARY``
* ``read_scan`` — Read one XAS scan
* ``read_athena_project`` — All groups of an Athena project as scans with columns ``energy`` and ``mu`` (and ``i0`` if stored)
* ``extract_channels`` — Validated channels of a scan
* ``channels_from_mapping`` — :func:`extract_channels` with a plain dict mapping (as in a config)
* ``scan_edge_hint`` — Absorber and edge named in the file's header (XDI ``Element.symbol``/``Element.edge``, the older GSE ``Scan.element``/``Scan.edge``, Epics StepScan ``ScanParameters.element``), else ``(None, None)``
* ``read_library`` — Every standard in one file: the non-energy columns of a multi-column file, the groups of an Athena project or the 1-D datasets of an HDF5 group (``file.h5::/group``)
* ``read_stack`` — Read a raw XANES stack: multi-page TIFF (one page per energy) or HDF5 ``file.h5::/dataset`` (E, y, x)
* ``read_energies`` — The energy list of a stack: a text file with one energy per line (or per row, first column)
* ``read_positions`` — Read a positions table (CSV with ``label`` and optional ``series``, ``x_um``, ``y_um``, ``distance_um``)
* ``column_key`` — Normalise a column name the way larch does (lower case, other characters -> ``_``)
* ``MIN_POINTS``

:mod:`xsuite.io.maps` — Readers for µXRF element maps

* ``MapData`` — One element map with where it came from and what the file says about its grid
* ``MapLayout`` — Where a beamline file keeps its element maps, monitor, positions and dead-time rates
* ``LAYOUTS``
* ``parse_spec`` — Split ``file.h5::/path[chan]`` into (file, dataset path or None, channel or None)
* ``read_map`` — Read one element map from a file or an HDF5 dataset
* ``read_layout`` — Read element maps, monitor, positions and dead-time rates from a beamline map file
* ``read_maps_v9`` — Read element maps from an APS MAPS v9 HDF5 file, optionally quantified to µg/cm²
* ``read_dead_time`` — Input and output counts (summed over detector elements) for dead-time correction
* ``check_same_shape`` — Raise :class:`DataFormatError` unless all maps share one shape; return it
* ``SpectrumMap`` — Per-pixel fluorescence spectra of a map scan (summed over the detector elements) and its scalers
* ``read_spectrum_map`` — Read per-pixel spectra of a raw map: an EPICS MDA file (rank 3) or an XRF-Maps ``MAPS_RAW`` HDF5 file
* ``read_maps_calibration`` — Energy calibration and resolution from a MAPS ``maps_fit_parameters_override.txt`` file, in eV

:mod:`xsuite.io.mda` — Reader for EPICS ``saveData`` MDA files (v1.x, XDR big-endian), as APS beamlines write them

* ``MdaColumn`` — A positioner or detector of one scan dimension: its number, PV name, description and unit
* ``MdaDimension`` — All scans of one nesting level, stacked over the points of the outer levels
* ``MdaFile`` — A parsed MDA file: header, one :class:`MdaDimension` per rank, extra PVs
* ``read_mda`` — Read an MDA file (any rank; aborted scans give NaN for the missing points)

:mod:`xsuite.io.cif` — Reading crystal structures (CIF files) for user phases

* ``CifText`` — The text of one CIF file and what identifies it
* ``read_cif`` — Read a CIF file (UTF-8; Latin-1 accepted for old files)
* ``is_cif_path`` — True when ``entry`` is a string or path naming a ``.cif`` file (case-insensitive suffix)
* ``cif_phase_name`` — The phase identifier for a CIF: its structural formula without spaces, else the file stem
* ``cif_cell`` — The unit cell a, b, c (Å), alpha, beta, gamma (deg) of a CIF text, checked
* ``check_atom_sites`` — Check the atom-site loop of a CIF: at least one atom, numeric coordinates, occupancies in (0, 1]

:mod:`xsuite.io.nexus` — The shared results store: one NeXus/HDF5 file per experiment, written only through this module

* ``Field`` — An array (or scalar) with its units, a human label and optional standard errors
* ``Column`` — One appendable column of a series: the per-frame shape, dtype and labels
* ``ResultsStore`` — A results file: atomic structural transactions, SWMR appends, single-writer lock
* ``Transaction`` — Atomic structural edit of a results file (see :meth:`ResultsStore.transaction`)
* ``EntryWriter`` — Writes the groups of one NXentry (inside a :class:`Transaction`)
* ``Appender`` — SWMR-mode writer for frame-by-frame appends (see :meth:`ResultsStore.appender`)
* ``SeriesAppender`` — Appends keyed frames to one series (see :meth:`EntryWriter.create_series`)
* ``read_results`` — Read every entry of a results file into dataclasses of numpy arrays
* ``Results`` — Results(path: 'str', default: 'str | None', entries: 'dict[str, EntryResult]')
* ``EntryResult`` — EntryResult(name: 'str', kind: 'str', title: 'str', default: 'str | None', nxdata: 'dict[str, NXdataResult]', collections: 'dict[str, dict[str, Any]]', provenance: 'Provenance | None', arrays: 'dict[str, Value]' = <factory>)
* ``NXdataResult`` — One NXdata group read back: the signal, its errors, axes and other fields
* ``Value`` — A stored scalar/array with its units, label and standard error (``None`` if none)
* ``Provenance`` — Provenance(program: 'str', version: 'str', date: 'str', config_yaml: 'str | None', parameters: 'dict[str, Any]', inputs: 'list[InputFile]', start_time: 'str', end_time: 'str')
* ``clear_write_flags`` — Clear the "open for writing" flags of an HDF5 file's version-3 superblock (``h5clear -s``)
* ``writer_active`` — True while an xsuite writer (transaction or appender) holds the lock of results file ``path``
* ``InputFile`` — InputFile(path: 'str', size_bytes: 'int', sha256: 'str')
* ``safe_name`` — Make a NeXus-safe group/field name (ASCII letters, digits and ``_``; not starting with a digit)
* ``file_sha256`` — SHA-256 hex digest of a file, streamed
* ``input_file`` — The provenance record (absolute path, size, SHA-256) of an input file
* ``open_for_reading`` — Open a results file read-only, in SWMR mode if a writer currently has it open
* ``is_link_view`` — True for an NXdata group whose signal is a hard link to a dataset stored under another name (its NeXus ``@target`` names another path), such as the ``NXazint1d`` view of a series' ``patterns``
* ``ROOT_DEFAULT_ORDER``

:mod:`xsuite.io.layout_diffraction` — NeXus layout of the diffraction series (xrd and gixrd): what is created, appended and updated where

* ``gixrd_entry_name`` — Results entry of one GIXRD series, e.g
* ``xrd_entry_name`` — Results entry of one transmission sample, e.g
* ``depth_entry_name`` — Results entry of a sample's onset-vs-depth table, e.g
* ``peak_group_name`` — NXdata group of one tracked reflection, e.g
* ``create_series_entry`` — Create (or open, when resuming) a series entry: provenance, ``patterns``, ``q_axes``, ``noise_model``
* ``pattern_row`` — The ``patterns`` columns of one frame
* ``read_noise_model`` — The stored bin correlation of an entry (None for files written before it was stored)
* ``read_series_frames`` — Every stored frame of a series (to resume a run): keys, times, intensities, errors, monitors, earlier rejections and the bin correlation
* ``create_gixrd_summary`` — Create the summary groups of a GIXRD series with their final structure (values NaN until the first re-fit; see :func:`gixrd_summary_values`)
* ``gixrd_summary_values`` — New values of a GIXRD series' summary groups: ``{group: {field: Field or array}}`` for :meth:`~xsuite.io.nexus.Appender.update_fields`
* ``create_xrd_summary`` — Create the summary groups of a transmission sample (values filled by :func:`xrd_summary_values`): ``pattern`` (the sample's mean pattern, 1-D, with q, d, 2θ and 2θ(Cu Kα) axes), ``peaks`` (its fitted reflections), ``frame_peaks`` (every frame's fits, one row per peak), optionally ``cake``
* ``xrd_summary_values`` — New values of a transmission sample's summary groups (see :func:`create_xrd_summary`)
* ``xrd_peak_rows`` — ``frame_peaks`` rows of one frame's fits
* ``depth_rows`` — Rows (angle, depth, phase, detected, onset, onset_err, rate, rate_err, depth definition, its label) of a sample's depth table, from every GIXRD entry of that sample: per angle and phase, the onset of its earliest-detected reflection and the rate of its most significant detected one
* ``write_depth_entry`` — (Re)create a sample's depth entry with one row per (angle, phase) (values updated in place later)
* ``depth_table_values`` — (``depth_table`` values, ``{onset_vs_depth_<phase>: values}``) of depth rows
* ``depth_updates`` — In-place updates of a depth entry whose rows are unchanged: ``{group path: values}``
* ``warning_values`` — ``warnings`` group values
* ``rejected_values`` — ``rejected`` group values (frames skipped, with their one-line reasons)
* ``AREA_UNITS``
* ``AZINT1D``
* ``intensity_units`` — Units of the stored intensities: ``"counts"`` (per pixel) only when no monitor divides them
* ``area_units`` — Units of a peak area (intensity integrated over q in 1/Å)
* ``series_intensity_units`` — Units of the ``patterns`` intensities of a series entry being written (``"counts"`` when unknown)
* ``write_azint1d`` — The series' patterns as an ``NXazint1d`` subentry laid out as pyFAI's ``save_NXazint1d`` writes an entry
* ``stored_monitor_applied`` — Whether a stored series is monitor-normalised (its ``azint1d/monitor_applied``); None for files written before it was recorded


:mod:`xsuite.io.hdf5_input` — Opening HDF5 *input* files safely: bounded opens and confinement of external links

* ``ALLOW_ENV`` — Name of the environment variable that carries ``--allow-external-links`` to worker processes
* ``external_links_allowed`` — True when links/virtual sources outside an input file's folder may be followed
* ``set_external_links_allowed`` — Set (or clear) the ``--allow-external-links`` setting for this process and its workers
* ``being_written`` — True when an HDF5 open error says a writer holds the file (the only case worth a SWMR retry)
* ``open_input`` — Open an HDF5 input file read-only, check its links, and return the ``h5py.File``
* ``check_links`` — Refuse external links / virtual sources leaving ``path``'s folder, and missing virtual sources

:mod:`xsuite.io.cache` — A small on-disk store of derived tables (JSON files), e.g. the reflection lists of phases

* ``JsonStore`` — ``get(key)`` / ``put(key, value)`` of JSON values, one file per key, written atomically
* ``cache_dir`` — The folder of xsuite's on-disk caches
* ``install_reflection_store`` — Keep phase reflection lists on disk (``<cache>/reflections``): the first command on a machine computes a phase's table with pymatgen, later ones read it back
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['images', 'spectra', 'maps', 'mda', 'cif', 'nexus', 'layout_diffraction', 'cache', 'hdf5_input'],
    submod_attrs={
        'images': [
            'FrameRef', 'read_frame', 'iter_frames', 'frame_count', 'discover_frames',
            'discover_frames_checked', 'FrameFailure', 'load_mask', 'load_dark', 'load_flat', 'check_shape',
            'apply_orientation', 'orientation_for_flips', 'poni_orientation', 'is_frame_complete',
            'is_frame_file', 'linked_files', 'lambda_acquisition', 'LambdaAcquisition',
            'close_cached_files', 'frame_cache', 'IMAGE_EXTENSIONS'
        ],
        'spectra': [
            'Scan', 'ColumnMap', 'Channels', 'Library', 'Stack', 'VOCABULARY', 'read_scan',
            'read_athena_project', 'extract_channels', 'channels_from_mapping', 'scan_edge_hint',
            'read_library', 'read_stack', 'read_energies', 'read_positions', 'column_key', 'MIN_POINTS'
        ],
        'maps': [
            'MapData', 'MapLayout', 'LAYOUTS', 'parse_spec', 'read_map', 'read_layout', 'read_maps_v9',
            'read_dead_time', 'check_same_shape', 'SpectrumMap', 'read_spectrum_map',
            'read_maps_calibration'
        ],
        'mda': [
            'MdaColumn', 'MdaDimension', 'MdaFile', 'read_mda'
        ],
        'cif': [
            'CifText', 'read_cif', 'is_cif_path', 'cif_phase_name', 'cif_cell', 'check_atom_sites'
        ],
        'nexus': [
            'Field', 'Column', 'ResultsStore', 'Transaction', 'EntryWriter', 'Appender', 'SeriesAppender',
            'read_results', 'Results', 'EntryResult', 'NXdataResult', 'Value', 'Provenance', 'InputFile',
            'safe_name', 'file_sha256', 'input_file', 'open_for_reading', 'is_link_view',
            'ROOT_DEFAULT_ORDER', 'clear_write_flags', 'writer_active'
        ],
        'hdf5_input': [
            'ALLOW_ENV', 'external_links_allowed', 'set_external_links_allowed', 'being_written',
            'open_input', 'check_links'
        ],
        'layout_diffraction': [
            'gixrd_entry_name', 'xrd_entry_name', 'depth_entry_name', 'peak_group_name',
            'create_series_entry', 'pattern_row', 'read_noise_model', 'read_series_frames',
            'create_gixrd_summary', 'gixrd_summary_values', 'create_xrd_summary', 'xrd_summary_values',
            'xrd_peak_rows', 'depth_rows', 'write_depth_entry', 'depth_table_values', 'depth_updates',
            'warning_values', 'rejected_values', 'AREA_UNITS', 'AZINT1D', 'intensity_units', 'area_units',
            'series_intensity_units', 'write_azint1d', 'stored_monitor_applied'
        ],
        'cache': [
            'JsonStore', 'cache_dir', 'install_reflection_store'
        ],
    },
)
