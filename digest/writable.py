"""Whether digest may write a path, asked before the work that needs it.

SQLite reports a read-only state file only at the first write, after every feed was fetched;
a folder that cannot be written fails even later. Asking first turns both into one line that
says which path to fix, before anything was spent.
"""

from __future__ import annotations

import os
from pathlib import Path


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (created first when missing), or None."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == folder:
            return f"the folder {folder} is read-only for this user"
        return f"{folder} cannot be created: {existing} is read-only for this user"
    return None


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written or created (with files beside it), or None."""
    if path.exists():
        if path.is_dir():
            return f"{path} is a folder, not a file"
        if not os.access(path, os.W_OK):
            return f"{path} is read-only for this user"
    return folder_problem(path.parent)
