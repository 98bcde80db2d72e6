"""DASH (Shen et al., NeurIPS 2022): kernel search with aggregated convolutions, a hyperparameter
grid and retraining, as reusable stages (:mod:`search_algorithms.dash.stages`) with the paper's
and quick offline settings (:mod:`search_algorithms.dash.settings`); the command is
``natsbench dash`` (:mod:`search_algorithms.dash_commands`). docs/DASH.md describes the pipeline.

Importing this package does not import torch; import the submodules.
"""
