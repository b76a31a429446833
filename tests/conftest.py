"""Shared fixtures: where the public data lives, a demo config in a temp folder, a clock."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DIGEST_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()

# The moment the golden files were built at: 07:00 in Jakarta on 26 November 2026.
FIXED_NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: corpus tests need the public data set beside the clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data not found at {SHARED_DATA} (set DIGEST_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def fixed_now() -> dt.datetime:
    return FIXED_NOW


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The repo's config.yaml, copied into tmp_path with its sample feeds beside it."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    return tmp_path / "config.yaml"


def write_config(folder: Path, data: dict[str, object]) -> Path:
    """Write ``data`` as config.yaml in ``folder`` and return its path."""
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
