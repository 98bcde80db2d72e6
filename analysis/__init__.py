"""Analysis of NAS results: performance profiles, EDFs, anytime curves, benchmark statistics,
figures, an offline HTML report and reproductions of published figures.

Everything here reads tidy pandas DataFrames. Modules: :mod:`analysis.profiles`,
:mod:`analysis.edf`, :mod:`analysis.anytime`, :mod:`analysis.weight_sharing` (per-epoch
rows of weight-sharing searches), :mod:`analysis.benchmark_analysis`,
:mod:`analysis.plots` (matplotlib, imported inside its functions), :mod:`analysis.report`,
:mod:`analysis.nb360` (published NAS-Bench-360 numbers) and :mod:`analysis.reproduce`
(``natsbench reproduce NAME``). Importing this package imports nothing heavy.
"""
