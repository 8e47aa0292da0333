"""Root pytest configuration: doctests of the package (``--doctest-modules`` in pyproject).

With ``--doctest-modules`` pytest would also import every ``conftest.py`` as a doctest module; two of
them with one basename in different test folders (tests/figures, tests/serve) then clash ("import file
mismatch"). Conftest files hold no doctests: keep them out of the collection (they are still loaded as
conftests).
"""


def pytest_ignore_collect(collection_path, config):
    if collection_path.name == "conftest.py":
        return True
    return None


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _numpy_default_printoptions():
    """Run every test and doctest with numpy's default print options.

    A library imported by an earlier test may change them (threshold, precision); doctest output must
    not depend on the order the tests run in.
    """
    import numpy as np

    with np.printoptions(**_NUMPY_DEFAULTS):
        yield


_NUMPY_DEFAULTS = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False,
                       nanstr="nan", infstr="inf", sign="-", floatmode="maxprec", legacy=False)
