"""A search's journal: one JSON line per finished or failed trial, as it ends.

A tuner given a journal writes each trial to it before anything else happens, and
flushes it to disk, so a kernel restart or a killed process loses at most the trial
that was running. A new tuner on the same file reads the trials back and goes on
from there. A last line cut short by a kill is ignored; anything else that does not
parse is an error that names the line.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

FORMAT = "d2l_hpo journal"
VERSION = 1


class JournalError(ValueError):
    """The journal cannot be read, or belongs to another search."""


def plain(value: Any) -> Any:
    """`value` as JSON keeps it: tuples become lists (so that configs compare)."""
    return json.loads(json.dumps(value))


class Journal:
    """Trials of one search (keyed by its `seed`) in the JSON Lines file `path`."""

    def __init__(self, path: str | os.PathLike, seed: int):
        self.path = Path(path)
        self.seed = seed
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"format": FORMAT, "version": VERSION, "seed": seed})

    def read(self) -> list[dict]:
        """The trials recorded so far, as dicts, in the order they ended."""
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1  # a whole line ends with "\n"
        if end < len(data):
            with self.path.open("r+b") as f:
                f.truncate(end)
        entries = []
        for number, line in enumerate(data[:end].decode().splitlines(), start=1):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise JournalError(f"{self.path}, line {number}: {err}") from None
        header = entries[0] if entries else {}
        if header.get("format") != FORMAT:
            raise JournalError(f"{self.path} is not a d2l_hpo journal")
        if header.get("seed") != self.seed:
            raise JournalError(
                f"{self.path} is the journal of a search with seed "
                f"{header.get('seed')}, not {self.seed}: pass that seed to resume "
                "it, or another file to start a new search"
            )
        for entry in entries[1:]:
            if entry["error"] is None:
                entry["error"] = math.nan
        return entries[1:]

    def append(self, entry: dict) -> None:
        """Write one trial and flush it to disk before returning."""
        error = entry["error"]
        self._append(entry | {"error": None if math.isnan(error) else error})

    def _append(self, entry: dict) -> None:
        line = json.dumps(entry, allow_nan=False) + "\n"
        with self.path.open("a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
