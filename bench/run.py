"""Run every benchmark, write ``bench/results.json`` and print a table.

Each ``bench/bench_*.py`` module exposes ``run(quick: bool) -> list[dict]``;
a figure is ``{"name", "value", "unit", "goal", "ok", "detail"}`` where
``goal`` is a human-readable target such as "<= 1.0 s" and ``ok`` says whether
this run met it (None when the figure has no pass/fail goal).  Benchmarks
report medians of repeated runs and, where the goal is a ratio, measure both
sides in the same run: the machine is shared and noisy.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    p.add_argument("--only", help="substring of benchmark module names to run")
    p.add_argument("--out", default=str(HERE / "results.json"))
    p.add_argument("--sessions", type=int, help="soak: resident sessions to run (default: a few minutes' worth)")
    args = p.parse_args(argv)
    figures, failures = [], []
    for path in sorted(HERE.glob("bench_*.py")):
        if args.only and args.only not in path.stem:
            continue
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{path.stem}")
            if args.sessions and "sessions" in inspect.signature(module.run).parameters:
                results = module.run(quick=args.quick, sessions=args.sessions)
            else:
                results = module.run(quick=args.quick)
        except Exception:
            failures.append(path.stem)
            traceback.print_exc()
            continue
        for fig in results:
            fig.setdefault("detail", "")
            fig["module"] = path.stem
            figures.append(fig)
        print(f"[{path.stem}: {time.perf_counter() - started:.1f} s]", file=sys.stderr)
    out = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "figures": figures,
        "failed_modules": failures,
    }
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_table(figures)
    print(f"\nwrote {args.out}")
    return 1 if failures else 0


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_table(figures: list[dict]) -> None:
    rows = [("figure", "value", "unit", "goal", "met")]
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f.get("ok")]
        rows.append((f["name"], _fmt(f["value"]), f.get("unit", ""), f.get("goal", ""), met))
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for i, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(main())
