"""natsbench.tasks: the NAS-Bench-360 tasks and the offline tasks DASH searches on.

Public API (this package itself imports neither numpy-heavy readers nor torch)::

    from natsbench.tasks import get_task, task_names, TASKS
    task = get_task("darcyflow")            # TaskConfig: shapes, loss, metric, K x D, backbones
    from natsbench.tasks.loaders import load_task
    data = load_task(task, data_root)       # TaskData: train / valid / test float32 arrays

Modules:

* :mod:`~natsbench.tasks.configs` -- the task registry (pure Python);
* :mod:`~natsbench.tasks.data` -- :class:`TaskData`, validation hold-out (numpy);
* :mod:`~natsbench.tasks.loaders` -- each task's on-disk format (numpy, scipy, h5py, restricted
  unpickling);
* :mod:`~natsbench.tasks.fsd50k` -- FSD50K's published chunk layout (CSV manifests, label map,
  clip ids);
* :mod:`~natsbench.tasks.audio` -- WAV reading and log-mel features (torch STFT, our mel bank);
* :mod:`~natsbench.tasks.offline` -- digits and the generated pulse tasks;
* :mod:`~natsbench.tasks.objectives` -- losses and metrics (torch, scikit-learn);
* :mod:`~natsbench.tasks.networks` -- each task's backbone per stage (torch).

It sits above ``models`` and ``datasets`` and below ``train`` (docs/LAYERS.md); the DASH
pipeline (:mod:`search_algorithms.dash`) and later searches (D2NAS) use it.
"""
from natsbench.tasks.configs import (NB360_TASKS, OFFLINE_TASKS, TASKS, TaskConfig, get_task,
                                     task_names)

__all__ = ["NB360_TASKS", "OFFLINE_TASKS", "TASKS", "TaskConfig", "get_task", "task_names"]
