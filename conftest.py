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
