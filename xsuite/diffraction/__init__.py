"""Diffraction science: integration, phases, peak fitting and tracking, kinetics, depth.

Pure functions and small classes on numpy arrays (no file I/O; readers are in :mod:`xsuite.io`).

Every name below is importable from this package (``xs.diffraction.NAME`` after ``import xsuite as xs``)
and loaded on first use, so importing the package costs nothing until a function is needed.

:mod:`xsuite.diffraction.units` — Conversions between the radial axes of a powder pattern

* ``CU_KA_WAVELENGTH_ANGSTROM``
* ``HC_EV_ANGSTROM``
* ``q_from_d`` — Scattering vector q (1/Å) from a lattice spacing d (Å): q = 2π/d
* ``d_from_q`` — Lattice spacing d (Å) from q (1/Å): d = 2π/q (inf at q = 0)
* ``q_from_two_theta`` — q (1/Å) from the scattering angle 2θ (degrees) at wavelength λ (Å)
* ``two_theta_from_q`` — Scattering angle 2θ (degrees) for q (1/Å) at wavelength λ (Å); NaN where qλ/4π > 1
* ``two_theta_cu_from_q`` — 2θ (degrees) for Cu Kα (1.54184 Å) at q (1/Å), as used to compare with lab diffractometers
* ``convert_two_theta`` — Re-express 2θ measured at one wavelength as 2θ at another (same q)
* ``wavelength_from_energy`` — Wavelength (Å) from photon energy (eV)
* ``energy_from_wavelength`` — Photon energy (eV) from wavelength (Å)

:mod:`xsuite.diffraction.integrate` — Azimuthal (powder) and grazing-incidence integration of area-detector frames with pyFAI

* ``IntegrationSettings`` — Settings of an integration, shared by every frame of a series
* ``GrazingGeometry`` — Sample geometry of a grazing-incidence measurement (one per incidence angle)
* ``Pattern1D`` — A 1D powder pattern with its standard errors
* ``Cake`` — 2D (χ, q) regrouping of a frame: ``intensity[chi, q]``
* ``FiberMap`` — Grazing-incidence reciprocal-space map ``intensity[q_oop, q_ip]`` (1/Å axes); NaN where empty
* ``PowderIntegrator`` — Transmission powder integration of the frames of one series (geometry and engine built once)
* ``GrazingIntegrator`` — Grazing-incidence integration at ONE incidence angle (build one per angle)
* ``refraction_corrected_q`` — Refraction-corrected |q| and q_oop (Snell's law at the surface, no DWBA)
* ``geometry_config`` — Return a picklable pyFAI config dict from a Geometry/AzimuthalIntegrator or a config dict
* ``auto_n_points`` — Number of q bins with ``bins_per_pixel`` bins per (median) pixel step in q (unmasked pixels)
* ``pixel_exit_angle_deg`` — Exit angle β (degrees) of every pixel above the sample surface (negative = shadowed)

:mod:`xsuite.diffraction.phases` — Reference phases: reflection positions and relative intensities from crystal structures

* ``Reflection`` — One powder reflection (a family of symmetry-equivalent planes merged at one d)
* ``Site`` — One asymmetric-unit site: element, fractional coordinates and occupancy
* ``Phase`` — A crystalline phase: a lattice, a space group and sites (or a user structure)
* ``list_phases`` — Names of the built-in phases (ASCII formulas), in table order
* ``get_phase`` — Return a built-in phase by formula or alias (case-insensitive; ``·``/``_``/``*`` read as ``.``)
* ``check_lattice`` — Check a unit cell before any crystallographic code sees it
* ``phase_from_cif`` — Build a phase from the TEXT of a CIF file (the caller reads the file)
* ``calibrant_reflections`` — Reflections of a pyFAI calibrant (``"CeO2"``, ``"LaB6"``, ``"Si"``, ...)
* ``is_calibrant`` — True when ``name`` is a pyFAI calibrant (case-insensitive)

:mod:`xsuite.diffraction.lineshapes` — Peak line shapes shared by the single-peak fits, the series tracker and the whole-pattern decomposition

* ``pseudo_voigt`` — Area-normalised pseudo-Voigt, identical to lmfit's ``pvoigt`` with sigma = fwhm/2
* ``pseudo_voigt_with_derivatives`` — Unit-area pseudo-Voigt and its derivatives with respect to centre, FWHM and eta
* ``multiplet`` — Pseudo-Voigt of ``area`` at ``center``, or a fixed multiplet of them ((offset, fraction) per member, fractions summing to 1; all members share the FWHM and eta and move with ``center``)
* ``multiplet_with_derivatives`` — Unit-area multiplet (or single pseudo-Voigt) and its derivatives with respect to centre and FWHM
* ``nudge_start`` — Clip a start value into its bounds and move it off their exact middle

:mod:`xsuite.diffraction.peaks` — Peak tracking over a series of 1D patterns: selection, single-peak fits, detection and onset

* ``TrackedReflection`` — A reflection (or a merged group of close same-phase reflections) chosen for tracking
* ``select_tracking_reflections`` — Pick reflections of the tracked phases that no other phase in play overlaps
* ``parse_hkl`` — Read Miller indices from ``"10-1"``, ``"1 0 -1"``, ``"1,0,-1"`` or a sequence of ints
* ``peak_profile`` — Pseudo-Voigt of ``area`` at ``center``, or a fixed multiplet of them
* ``PeakFit`` — Result of one pseudo-Voigt + polynomial-background fit
* ``PeakFitOptions`` — How :func:`fit_peak` fits one pseudo-Voigt + polynomial background
* ``fit_peak`` — Fit a pseudo-Voigt + polynomial background in a q window with lmfit
* ``fit_peak_fixed_shape`` — Fit area and background with the peak shape fixed: weighted linear least squares
* ``PeakDetection`` — Per-peak detection outcome of :func:`track_peaks` (shape used, detected or not, onset, upper limit)
* ``TrackingResult`` — Per-frame fits of several peaks over a series
* ``onset_index`` — Index of the first frame that starts a run of ``n_consecutive`` frames with sig ≥ threshold
* ``TrackingOptions`` — How :func:`track_peaks` fits and detects (every field has a default)
* ``track_peaks`` — Fit every tracked peak in every frame; decide detection and onset
* ``summed_series`` — Sum of the frames of a series and its standard error (bins with no finite value in any frame: NaN error)
* ``decompose_series`` — Per-phase profiles of the summed series: :func:`xsuite.diffraction.profiles.decompose_pattern` of the frames' sum with every phase's reflections at ``wavelength`` (Å)

:mod:`xsuite.diffraction.profiles` — Whole-pattern decomposition of a (summed) powder pattern: one peak profile per phase

* ``PhaseProfile`` — Peak shape shared by all reflections of one phase
* ``Component`` — One fitted component: a reflection, or same-phase reflections merged at the table ratio
* ``PatternDecomposition`` — Result of :func:`decompose_pattern`
* ``decompose_pattern`` — Fit one pseudo-Voigt profile per phase to a whole pattern (Pawley-type, see module doc)
* ``group_reflections`` — Same-phase reflections (objects with ``q_inv_angstrom``) in groups: a reflection joins the previous group when it lies less than ``merge_inv_angstrom`` above the group's first member (the rule :func:`xsuite.diffraction.peaks.select_tracking_reflections` merges tracked groups with, too)

:mod:`xsuite.diffraction.peak_search` — Peak search of 1D powder patterns: find, fit and label every significant reflection — fast

* ``XrdPeak`` — One fitted reflection of a powder pattern (q, FWHM in 1/Å; area in the pattern's units × 1/Å)
* ``PeakSearch`` — The peak search of a series, as a picklable callable ``search(q, intensity, sigma, correlation)``
* ``find_and_fit_peaks`` — Find significant peaks in a 1D pattern, fit each, and label them with the nearest reference
* ``label_peaks`` — Label each peak with the nearest reference reflection within the tolerance (else leave it unlabelled)
* ``indexing_summary`` — Per phase: the reflections indexed, their residuals q_obs − q_calc and the rms residual with its error

:mod:`xsuite.diffraction.framefit` — Weighted linear least squares for many frames at once, with honest (sandwich) errors

* ``FrameSolution`` — Per-frame results of :func:`solve_frames` (frames along the first axis)
* ``solve_frames`` — Weighted linear least squares of every frame, vectorised over frames

:mod:`xsuite.diffraction.transmission` — Transmission-XRD extras: two samples compared per reflection, instrumental broadening, Scherrer size

* ``q_to_two_theta_deg`` — 2θ (deg) of q (1/Å) at a wavelength
* ``fwhm_q_to_two_theta_deg`` — Convert a width in q to a width in degrees 2θ at the peak position (Δ2θ = Δq λ / (2π cosθ))
* ``fwhm_two_theta_deg_to_q`` — Inverse of :func:`fwhm_q_to_two_theta_deg`
* ``CagliotiFit`` — Instrumental resolution FWHM²(θ) = U tan²θ + V tanθ + W, FWHM in degrees 2θ
* ``fit_caglioti`` — Fit the Caglioti resolution function to calibrant peak widths (lmfit)
* ``caglioti_from_peak_fits`` — Caglioti fit from calibrant :class:`~xsuite.diffraction.peaks.PeakFit` results (q units)
* ``split_pseudo_voigt`` — (Γ_G, Γ_L) of the Voigt equivalent to a pseudo-Voigt of FWHM ``fwhm`` and Lorentzian fraction η
* ``voigt_fwhm`` — Voigt FWHM from its components (Olivero & Longbothum 1977, 0.02 % accuracy)
* ``sample_fwhm`` — Sample FWHM after removing the instrumental profile (same units as the inputs)
* ``ScherrerResult`` — Crystallite size of one reflection
* ``scherrer_size`` — Scherrer crystallite size from one fitted peak (widths in q)
* ``fit_reflections`` — Fit each reflection of a list in one pattern (pseudo-Voigt + background, lmfit)
* ``ReflectionComparison`` — One reflection in two samples (A = reference, B = compared)
* ``TransmissionComparison`` — Per-reflection comparison of two samples
* ``compare_samples`` — Compare the same reflections fitted in two samples (e.g

:mod:`xsuite.diffraction.orientation` — Geometry check: which image orientation fits a calibration, judged by a calibrant's (or phase's) peaks

* ``IndexedReflection`` — One reference reflection located (or not) in the pattern of one orientation
* ``OrientationCandidate`` — The fit of the reference reflections under one image orientation
* ``OrientationCheck`` — Result of :func:`check_orientation`
* ``check_orientation`` — Integrate one image under each orientation 1-4 and compare how the reference reflections index
* ``orientation_flag`` — The command-line flags that make the files' ``orientation`` match a geometry of ``geometry_orientation``
* ``DECISION_RULE``

:mod:`xsuite.diffraction.noise` — Noise model of pixel-split 1D patterns: correlation between neighbouring bins, and honest fit errors

* ``lag_correlation`` — Correlation of the noise of neighbouring bins of a pixel-split 1D pattern
* ``correlation_matrix`` — Dense correlation matrix of the bins ``index`` (sorted indices into the pattern)
* ``sandwich_covariance`` — Covariance of a weighted-least-squares estimate under correlated bin noise
* ``effective_variance_factor`` — Median of 1 + 2 Σ_k ρ_k over the bins: how much the variance of a wide average is under-stated by treating the bins as independent (≈ 3.3 at three bins per pixel step with full splitting)

:mod:`xsuite.diffraction.onset` — Detection of growth in a series of peak areas, and its onset, at a stated false-alarm probability

* ``GrowthDetection`` — Outcome of :func:`detect_growth` for one area series
* ``detect_growth`` — Is the area growing, and from which frame? (see the module doc for the rule)
* ``frame_threshold`` — Per-frame level z* at which a series of ``n_frames`` frames without growth is detected with probability ``false_alarm`` (see the module doc)
* ``run_probability`` — Probability of at least one run of ``run_length`` successes in ``n_trials`` independent trials of success probability ``p`` (exact: powers of the run-length Markov chain)
* ``false_alarm_probability`` — One-sided normal tail of ``significance`` σ (3 -> 0.00135): the default per-series false-alarm probability of :func:`detect_growth`
* ``growth_p_value`` — Probability that a series of ``n_frames`` frames without growth has a run statistic (see the module doc) at least ``statistic``

:mod:`xsuite.diffraction.kinetics` — Growth kinetics of a phase from its peak area over time: JMAK (Avrami) and parabolic models

* ``jmak`` — JMAK/Avrami growth A∞(1 − exp(−(k(t − t0))^n)), zero before t0
* ``parabolic`` — Parabolic (diffusion-limited) growth K·sqrt(t − t0), zero before t0
* ``ModelFit`` — One growth model fitted to one area series
* ``KineticsResult`` — Both growth models fitted to one area series, and the chosen one
* ``fit_growth`` — Fit JMAK and parabolic growth to a peak-area series and choose by AIC/BIC
* ``MODELS``

:mod:`xsuite.diffraction.depth` — Probing (information) depth of grazing-incidence diffraction from composition, density and energy

* ``mu_inv_cm`` — Linear attenuation coefficient µ (1/cm), total cross-section, from xraydb
* ``attenuation_length_um`` — 1/µ in µm (normal-incidence 1/e attenuation length)
* ``critical_angle_deg`` — Critical angle of total external reflection, sqrt(2δ), from ``xraydb.xray_delta_beta``
* ``coplanar_exit_angle_deg`` — Exit angle to the surface of a reflection observed in the plane of incidence: 2θ − α
* ``information_depth_um`` — 1/e information depth z = 1/(µ (1/sin α + 1/sin β)) in µm
* ``check_depth_definition`` — The definition name if known, else a :class:`ConfigError` listing :data:`DEPTH_DEFINITIONS`
* ``depth_definition_label`` — The text a depth table or figure shows for a definition, e.g
* ``crystal_density_g_cm3`` — Crystallographic density (g/cm³) of a phase of the table (``"Li3YCl6"``/``"LYC"`` -> 2.44)
* ``probing_depth_um`` — Probing depth (µm) under a named definition (:data:`DEPTH_DEFINITIONS`)
* ``ProbingDepth`` — Probing depth at one incidence angle under a named definition
* ``probing_depth`` — The probing depth of one series (one incidence angle), saying which definition it is
* ``compare_depth_definitions`` — Depths (µm) per incidence angle under every definition, for stating which one a number is
* ``DepthRow`` — Information depth at one incidence angle
* ``depth_table`` — Information depth for each incidence angle

:mod:`xsuite.diffraction.series` — Pure analysis of a GIXRD series: which reflections to track, tracking, detection, kinetics, depth

* ``PeakSummary`` — Tracking + kinetics of one reflection in one series (the JSON ``peaks`` items)
* ``SeriesSummary`` — One sample x incidence-angle series
* ``GixrdSummary`` — Headline of a gixrd run: ``{"output": ..., "series": [...]}`` (issue 3 item 9)
* ``SeriesAnalysisOptions`` — What the analysis of a series needs besides its frames (picklable, no file access)
* ``SeriesAnalysis`` — SeriesAnalysis(summary: 'SeriesSummary', per_peak: 'dict[tuple[str, str], dict[str, np.ndarray]]', onset_frame: 'dict[tuple[str, str], int]', onset_err_s: 'float', profiles: 'tuple[Any, ...]' = ())
* ``SeriesInputs`` — The stored frames of one series, as :func:`analyse_series` takes them (see :meth:`SeriesWriter.analysis_inputs`)
* ``choose_reflections`` — Reflections to track: the user's choice (``reflections``), else well-separated ones
* ``analyse_series`` — Tracking + kinetics + depth of one series (pure: arrays in, summary out)
* ``decomposition_range`` — q range of the whole-pattern profile fit: from the first finite bin to the last tracked window plus :data:`DECOMPOSITION_MARGIN_INV_ANGSTROM`
* ``flatten_kinetics`` — A KineticsResult (via its ``to_dict()``) as the flat dict stored in ``kinetics`` and the JSON
* ``information_depth`` — The probing depth of the series (a :class:`~xsuite.diffraction.depth.ProbingDepth` saying which definition it is), or None without a composition
* ``reflection_label`` — (phase, hkl label, reference q) of a reflection to track: ``("LiCl.H2O", "101/110", 2.07)``; a bare position is labelled ``q2.070``
* ``DECOMPOSITION_MARGIN_INV_ANGSTROM``
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=['units', 'integrate', 'phases', 'lineshapes', 'peaks', 'profiles', 'peak_search', 'framefit', 'transmission', 'orientation', 'noise', 'onset', 'kinetics', 'depth', 'series'],
    submod_attrs={
        'units': [
            'CU_KA_WAVELENGTH_ANGSTROM', 'HC_EV_ANGSTROM', 'q_from_d', 'd_from_q', 'q_from_two_theta',
            'two_theta_from_q', 'two_theta_cu_from_q', 'convert_two_theta', 'wavelength_from_energy',
            'energy_from_wavelength'
        ],
        'integrate': [
            'IntegrationSettings', 'GrazingGeometry', 'Pattern1D', 'Cake', 'FiberMap', 'PowderIntegrator',
            'GrazingIntegrator', 'refraction_corrected_q', 'geometry_config', 'auto_n_points',
            'pixel_exit_angle_deg'
        ],
        'phases': [
            'Reflection', 'Site', 'Phase', 'list_phases', 'get_phase', 'check_lattice', 'phase_from_cif',
            'calibrant_reflections', 'is_calibrant'
        ],
        'lineshapes': [
            'pseudo_voigt', 'pseudo_voigt_with_derivatives', 'multiplet', 'multiplet_with_derivatives',
            'nudge_start'
        ],
        'peaks': [
            'TrackedReflection', 'select_tracking_reflections', 'parse_hkl', 'peak_profile', 'PeakFit',
            'PeakFitOptions', 'fit_peak', 'fit_peak_fixed_shape', 'PeakDetection', 'TrackingResult',
            'onset_index', 'TrackingOptions', 'track_peaks', 'summed_series', 'decompose_series'
        ],
        'profiles': [
            'PhaseProfile', 'Component', 'PatternDecomposition', 'decompose_pattern', 'group_reflections'
        ],
        'peak_search': [
            'XrdPeak', 'PeakSearch', 'find_and_fit_peaks', 'label_peaks', 'indexing_summary'
        ],
        'framefit': [
            'FrameSolution', 'solve_frames'
        ],
        'transmission': [
            'q_to_two_theta_deg', 'fwhm_q_to_two_theta_deg', 'fwhm_two_theta_deg_to_q', 'CagliotiFit',
            'fit_caglioti', 'caglioti_from_peak_fits', 'split_pseudo_voigt', 'voigt_fwhm', 'sample_fwhm',
            'ScherrerResult', 'scherrer_size', 'fit_reflections', 'ReflectionComparison',
            'TransmissionComparison', 'compare_samples'
        ],
        'orientation': [
            'IndexedReflection', 'OrientationCandidate', 'OrientationCheck', 'check_orientation',
            'orientation_flag', 'DECISION_RULE'
        ],
        'noise': [
            'lag_correlation', 'correlation_matrix', 'sandwich_covariance', 'effective_variance_factor'
        ],
        'onset': [
            'GrowthDetection', 'detect_growth', 'frame_threshold', 'run_probability',
            'false_alarm_probability', 'growth_p_value'
        ],
        'kinetics': [
            'jmak', 'parabolic', 'ModelFit', 'KineticsResult', 'fit_growth', 'MODELS'
        ],
        'depth': [
            'mu_inv_cm', 'attenuation_length_um', 'critical_angle_deg', 'coplanar_exit_angle_deg',
            'information_depth_um', 'check_depth_definition', 'depth_definition_label',
            'crystal_density_g_cm3', 'probing_depth_um', 'ProbingDepth', 'probing_depth',
            'compare_depth_definitions', 'DepthRow', 'depth_table'
        ],
        'series': [
            'PeakSummary', 'SeriesSummary', 'GixrdSummary', 'SeriesAnalysisOptions', 'SeriesAnalysis',
            'SeriesInputs', 'choose_reflections', 'analyse_series', 'decomposition_range',
            'flatten_kinetics', 'information_depth', 'reflection_label', 'DECOMPOSITION_MARGIN_INV_ANGSTROM'
        ],
    },
)
