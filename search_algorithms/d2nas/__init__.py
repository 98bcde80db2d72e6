"""D2NAS (Lee et al., IEEE Access 2024): progressive DARTS-style cell search, then DASH's kernel
search, hyperparameter grid and retraining on the searched network.

* :mod:`~search_algorithms.d2nas.configs` -- the ``common``/``custom`` configurations (Tables 6,
  7), cell-search settings, search-space counting (pure Python);
* :mod:`~search_algorithms.d2nas.network` -- the cell-search supernet, pruning, derivation, the
  searched network's JSON spec (torch);
* :mod:`~search_algorithms.d2nas.stages` -- the resumable stages and the pipeline (torch).

CLI: ``natsbench d2nas TASK --config common|custom --stage cell|kernel|hpo|retrain|all --out DIR``
(search_algorithms/d2nas_commands.py). docs/D2NAS.md describes the method, the defaults and
their sources.
"""
