"""Run every benchmark in bench/ one after another (`make bench`), then list their RESULT lines.

    .venv/bin/python bench/run_all.py

Each script runs in its own process, with its default data (../shared/data), so one's memory
and caches do not colour the next. Run a script alone to point it at other data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith(("_", "run_all")))
    results: list[str] = []
    failed = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failed += 1
            sys.stdout.write(proc.stderr[-2000:])
            results.append(f"FAILED {script.name} (exit {proc.returncode})")
        results.extend(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    print("== summary")
    print("\n".join(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
