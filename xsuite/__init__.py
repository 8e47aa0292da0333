"""xsuite — synchrotron spectroscopy and diffraction processing for battery materials.

Pipelines (see ``xsuite --help``):

* diffraction: transmission XRD and GIXRD integration with pyFAI, reference phases, hydrate peak
  tracking and growth kinetics (:mod:`xsuite.pipelines.gixrd`, :mod:`xsuite.pipelines.xrd`);
* XANES: Y K-edge normalisation with larch and linear-combination fitting (:mod:`xsuite.pipelines.xanes`);
* µXRF: Cl/Y maps, interphase segmentation and thickness (:mod:`xsuite.pipelines.xrf`).

All results go through one NeXus/HDF5 store (:mod:`xsuite.io.nexus`).

The Python API, in the style of scikit-image: ``import xsuite as xs`` and then

* ``xs.diffraction`` — integration, phases, peak fits and tracking, kinetics, information depth;
* ``xs.xanes`` — µ(E), calibration, normalisation, linear-combination fitting;
* ``xs.xrf`` — ROI maps, segmentation of the interphase layer, thickness;
* ``xs.io`` — readers and the NeXus results store (``xs.io.read_results``);
* ``xs.series`` — the diffraction series driver (setup, reducer, writer, session);
* ``xs.pipelines`` — ``run_gixrd``, ``run_xrd``, ``run_xanes``, ``run_xrf``... (what the CLI runs);
* ``xs.figures`` — publication figures from a results file;
* ``xs.simulate`` — ground-truth data sets;
* ``xs.config`` — typed beamline configurations (``xs.config.load_config``).

Sub-packages and their functions are imported on first use, so ``import xsuite`` stays fast and pulls in
neither pyFAI, larch nor matplotlib.

Examples
--------
>>> import xsuite as xs
>>> round(float(xs.diffraction.d_from_q(2.0)), 4)
3.1416
>>> "fit_lcf" in xs.xanes.__all__
True
"""

__version__ = "0.1.0"

import lazy_loader as _lazy

from xsuite.errors import ConfigError, DataFormatError, XsuiteError

SUBPACKAGES = ["config", "diffraction", "figures", "io", "pipelines", "series", "simulate", "xanes", "xrf"]

__getattr__, __dir__, _lazy_all = _lazy.attach(__name__, submodules=SUBPACKAGES)

__all__ = ["__version__", "XsuiteError", "ConfigError", "DataFormatError", *SUBPACKAGES]
