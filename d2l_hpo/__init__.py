"""d2l_hpo: the code behind chapter 19 of d2l.ai, Hyperparameter Optimization.

Built on the real ``d2l`` package: `HPOTrainer` is a ``d2l.Trainer`` and
`FashionMNIST` a ``d2l.DataModule``. Modules have one job each: `data` and
`fashion_files` (the data set), `training` (trainer and objective), `space`
(distributions), `search` (searchers and the trial loop), `plotting`, and
`notebook` (showing this code in the notebooks).
"""

from d2l_hpo.data import FashionMNIST
from d2l_hpo.fashion_files import (
    ChecksumError,
    FashionMNISTNotFoundError,
    ensure_fashion_mnist,
)
from d2l_hpo.notebook import show_source
from d2l_hpo.plotting import plot_log_samples, plot_search
from d2l_hpo.search import (
    GridSearcher,
    RandomSearcher,
    Searcher,
    SearchResults,
    Trial,
    equispaced_grid,
    grid_search,
    random_search,
    run_search,
    seed_everything,
)
from d2l_hpo.space import (
    Categorical,
    IntLogUniform,
    IntUniform,
    check_config_space,
    mlp_config_space,
)
from d2l_hpo.training import (
    HPOTrainer,
    hpo_objective_softmax_classification,
    train_softmax_classification,
)

__all__ = [
    "Categorical",
    "ChecksumError",
    "FashionMNIST",
    "FashionMNISTNotFoundError",
    "GridSearcher",
    "HPOTrainer",
    "IntLogUniform",
    "IntUniform",
    "RandomSearcher",
    "SearchResults",
    "Searcher",
    "Trial",
    "check_config_space",
    "ensure_fashion_mnist",
    "equispaced_grid",
    "grid_search",
    "hpo_objective_softmax_classification",
    "mlp_config_space",
    "plot_log_samples",
    "plot_search",
    "random_search",
    "run_search",
    "seed_everything",
    "show_source",
    "train_softmax_classification",
]
