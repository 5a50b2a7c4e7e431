"""d2l_hpo: the code behind chapter 19 of d2l.ai, Hyperparameter Optimization.

Built on the real ``d2l`` package: `HPOTrainer` is a ``d2l.Trainer`` and
`FashionMNIST` a ``d2l.DataModule``. Modules have one job each, lower ones never
importing higher ones: `checks`; `fashion_files` and `data` (the data set);
`space` (distributions); `searchers` (what to try), `schedulers` (when and how
long), `seeding`, `journal` and `checkpoints`; `tuner` (the trial loop and its
records); `search` (19.1's searches on top of the tuner); `training`, `models`
and `objectives` (trainer, models, objectives); `curves` (recorded learning
curves, replayed); `simulation` (parallel workers simulated on those curves);
`studies`, `worker` and `local_workers` (19.3 and 19.5: Optuna studies shared by
worker processes, the worker, and the workers of one machine);
`plotting`; and `notebook` (showing this code in notebooks).
"""

from d2l_hpo.checkpoints import CheckpointStore
from d2l_hpo.curves import LearningCurves
from d2l_hpo.data import FashionMNIST
from d2l_hpo.fashion_files import (
    ChecksumError,
    FashionMNISTNotFoundError,
    ensure_fashion_mnist,
)
from d2l_hpo.journal import JournalError
from d2l_hpo.local_workers import LocalWorkers, requeue_running
from d2l_hpo.models import DropoutMLP
from d2l_hpo.notebook import show_source
from d2l_hpo.objectives import hpo_objective_dropoutmlp, hpo_objective_lenet
from d2l_hpo.plotting import (
    plot_anytime,
    plot_curves_over_time,
    plot_incumbent,
    plot_learning_curves,
    plot_log_samples,
    plot_rungs,
    plot_search,
    plot_timeline,
    plot_timelines,
)
from d2l_hpo.schedulers import (
    BasicScheduler,
    HPOScheduler,
    SuccessiveHalvingScheduler,
)
from d2l_hpo.search import grid_search, random_search, run_search
from d2l_hpo.searchers import (
    GridSearcher,
    HPOSearcher,
    LocalSearcher,
    RandomSearcher,
    equispaced_grid,
)
from d2l_hpo.seeding import seed_everything
from d2l_hpo.space import (
    Categorical,
    IntLogUniform,
    IntUniform,
    check_config_space,
    mlp_config_space,
)
from d2l_hpo.studies import (
    create_study,
    load_study,
    reports_frame,
    trials_frame,
)
from d2l_hpo.training import (
    HPOTrainer,
    hpo_objective_softmax_classification,
    train_softmax_classification,
)
from d2l_hpo.tuner import HPOTuner, SearchResults, Trial

__all__ = [
    "BasicScheduler",
    "Categorical",
    "CheckpointStore",
    "DropoutMLP",
    "ChecksumError",
    "FashionMNIST",
    "FashionMNISTNotFoundError",
    "GridSearcher",
    "HPOScheduler",
    "HPOSearcher",
    "HPOTrainer",
    "HPOTuner",
    "IntLogUniform",
    "IntUniform",
    "JournalError",
    "LearningCurves",
    "LocalWorkers",
    "LocalSearcher",
    "RandomSearcher",
    "SearchResults",
    "SuccessiveHalvingScheduler",
    "Trial",
    "check_config_space",
    "create_study",
    "ensure_fashion_mnist",
    "equispaced_grid",
    "grid_search",
    "hpo_objective_dropoutmlp",
    "hpo_objective_lenet",
    "hpo_objective_softmax_classification",
    "load_study",
    "mlp_config_space",
    "plot_anytime",
    "plot_curves_over_time",
    "plot_incumbent",
    "plot_learning_curves",
    "plot_log_samples",
    "plot_rungs",
    "plot_search",
    "plot_timeline",
    "plot_timelines",
    "random_search",
    "reports_frame",
    "requeue_running",
    "run_search",
    "seed_everything",
    "show_source",
    "train_softmax_classification",
    "trials_frame",
]
