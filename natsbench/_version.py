"""The natsbench version: one definition, read by the package, the CLI, provenance records and
the build backend (``[tool.setuptools.dynamic]`` in pyproject.toml).

A leaf module (it imports nothing), so any layer can read the version without importing the
``natsbench`` package facade.
"""

__version__ = "0.1.0"
