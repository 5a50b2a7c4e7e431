"""Where a trial leaves its training state, so that a promotion can continue it.

Successive halving trains a configuration to one rung, then perhaps further. With a
checkpoint the next rung trains only the missing epochs. The state is kept per
configuration, in memory or, to survive a killed process, as files in a folder.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch


class Checkpoint:
    """One configuration's slot: `load` returns what `save` stored, or None."""

    def __init__(self, store: CheckpointStore, config_id: int):
        self.store, self.config_id = store, config_id

    def load(self) -> dict | None:
        data = self.store.read(self.config_id)
        if data is None:
            return None
        return torch.load(io.BytesIO(data), weights_only=True)

    def save(self, state: dict) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.store.write(self.config_id, buffer.getvalue())


class CheckpointStore:
    """Training states by configuration id: in memory, or files in `folder`.

    Files are written to a temporary name and renamed, so a process killed while
    saving leaves the previous state, never half of one.
    """

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = None if folder is None else Path(folder)
        self._memory: dict[int, bytes] = {}
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def slot(self, config_id: int) -> Checkpoint:
        return Checkpoint(self, config_id)

    def _path(self, config_id: int) -> Path:
        return self.folder / f"config-{config_id}.pt"

    def read(self, config_id: int) -> bytes | None:
        if self.folder is None:
            return self._memory.get(config_id)
        path = self._path(config_id)
        return path.read_bytes() if path.exists() else None

    def write(self, config_id: int, data: bytes) -> None:
        if self.folder is None:
            self._memory[config_id] = data
            return
        path = self._path(config_id)
        part = path.with_suffix(".part")
        part.write_bytes(data)
        os.replace(part, path)
