"""Checks of what a reader passes in, each failing with a `ValueError` naming it.

The lowest layer of the library: the other modules may use it, it uses none.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

#: The largest float32, the precision in which torch trains: a larger learning
#: rate passes Python's checks and then fails inside torch.
FLOAT32_MAX = 3.4028234663852886e38


def integer(value: Any, name: str, minimum: int) -> int:
    """`value` as an int, or `ValueError` unless it is an integer >= `minimum`.

    `bool` is refused although Python counts it as an integer: ``batch_size=True``
    is a mistake, not a batch size of 1. NumPy integers are accepted.
    """
    kinds = {0: "a non-negative integer", 1: "a positive integer"}
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        kind = kinds.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def positive_float(value: Any, name: str) -> float:
    """`value` as a float, or `ValueError` unless finite, > 0 and within float32."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or math.isnan(value) or not 0 < value <= FLOAT32_MAX:
        raise ValueError(
            f"{name} must be a finite number > 0 (at most {FLOAT32_MAX:.4g}, the "
            f"largest float32), got {value!r}"
        )
    return float(value)
