"""``natsbench._data``: the bundled benchmarks, ExtCell samples and published tables.

This folder is installed as the package data ``natsbench._data`` (pyproject.toml maps it);
read it through :mod:`natsbench.resources`, never by importing it.
"""
