"""xsuite — synchrotron spectroscopy and diffraction processing for battery materials.

Pipelines (see ``xsuite --help``):

* diffraction: transmission XRD and GIXRD integration with pyFAI, reference phases, hydrate peak
  tracking and growth kinetics (:mod:`xsuite.pipelines.gixrd`, :mod:`xsuite.pipelines.xrd`);
* XANES: Y K-edge normalisation with larch and linear-combination fitting (:mod:`xsuite.pipelines.xanes`);
* µXRF: Cl/Y maps, interphase segmentation and thickness (:mod:`xsuite.pipelines.xrf`).

All results go through one NeXus/HDF5 store (:mod:`xsuite.io.nexus`).
"""

__version__ = "0.1.0"

from xsuite.errors import ConfigError, DataFormatError, XsuiteError  # noqa: E402

__all__ = ["__version__", "XsuiteError", "ConfigError", "DataFormatError"]
