"""Seeds: one per trial, derived from the search's seed, so results reproduce."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (and GPUs', if any).

    Like ``torch.manual_seed``, without its cost on machines without a GPU: there it
    records a traceback for GPUs that may be initialized later, about a millisecond,
    which dominated searches over cheap objectives.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def trial_seed(search_seed: int, trial_id: int) -> int:
    """A seed for one trial, from the search's seed and the trial's number."""
    return int(np.random.SeedSequence([search_seed, trial_id]).generate_state(1)[0])
