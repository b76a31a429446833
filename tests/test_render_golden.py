"""Golden files of the rendered digest under a fixed clock.

After an intended change to templates or rendering, regenerate them with
``make golden`` (or ``DIGEST_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py``)
and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from render_fixtures import sample_digest

from digest.render import render_digest

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("DIGEST_UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    """Compare ``actual`` with tests/golden/``name``, or rewrite it when updating."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make golden` to create it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{name} differs from the golden file; if the change is intended run `make golden` "
        "and review the diff"
    )


@pytest.mark.parametrize("language", ["en", "id"])
def test_render_golden(language: str) -> None:
    rendered = render_digest(
        sample_digest(language), unsubscribe="https://example.org/unsubscribe?u=42"
    )
    check_golden(f"render_{language}.html", rendered.html)
    check_golden(f"render_{language}.txt", rendered.text)


def test_render_golden_without_images() -> None:
    rendered = render_digest(sample_digest("en"), images=False)
    check_golden("render_noimages.html", rendered.html)
