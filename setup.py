"""Package discovery: every top-level folder that is a Python package is a room of lucene_hybrid.

The rooms live at the top of the repository (core/, indexing/, search/, ...), installed as
``lucene_hybrid.core``, ``lucene_hybrid.indexing``, ...: each sub-package is found here, never
listed by hand, so a new one cannot be left out of the wheel. Metadata is in pyproject.toml.
"""

from setuptools import find_packages, setup

NOT_ROOMS = ["tests*", "clients*", "scripts*", "examples*", "build*"]

setup(
    package_dir={"lucene_hybrid": "."},
    packages=[f"lucene_hybrid.{name}" for name in find_packages(".", exclude=NOT_ROOMS)],
)
