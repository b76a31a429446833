"""The demo digest, rendered under a fixed clock, compared with the golden files.

After an intended change to templates, summaries or selection, regenerate them with
``make golden`` (DIGEST_UPDATE_GOLDEN=1) and review the diff before committing.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from digest.config import load_config
from digest.pipeline import build_and_write

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DIGEST_UPDATE_GOLDEN") == "1"


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(f"{path.name} is missing; run `make golden` to create it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs; run `make golden` if this is intended"


@pytest.mark.parametrize("part", ["html", "txt"])
def test_demo_matches_golden(demo_config: Path, fixed_now: dt.datetime, part: str) -> None:
    config = load_config(demo_config)
    output = build_and_write(config, now=fixed_now, dry_run=True)
    actual = output.rendered.html if part == "html" else output.rendered.text
    _compare(GOLDEN / f"demo.{part}", actual)
