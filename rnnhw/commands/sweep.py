"""``rnnhw sweep SPEC.toml -o DIR``: design-space exploration on this machine or on a Dask cluster.

The work is :func:`rnnhw.sweep.run_sweep`'s; this module parses the options and prints the summary.
Exit status 0 when at least one point succeeded, 1 when every point failed, 2 for a bad specification.
"""

from __future__ import annotations

import re
import sys

from rnnhw.commands._options import integer_option
from rnnhw.spec.errors import UserError
from rnnhw.sweep import run_sweep
from rnnhw.sweep.cluster import Runner, default_workers

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="design-space exploration: evaluate a grid of designs (accuracy, cycles, synthesis) on Dask",
        description="Evaluate every point of the grid SPEC.toml describes (the product of its [axes]) in "
        "parallel with dask.distributed: the golden model's accuracy on the data, cycles per step, "
        "synthesis and RTL simulation as [evaluate] asks. Each point's result is cached in DIR/points, so "
        "a re-run or an interrupted sweep resumes without recomputing finished points. Writes "
        "DIR/results.csv, DIR/results.json, Pareto plots and DIR/report.md naming the recommended point "
        "under [constraints]. Keys: docs/sweep.md. Exit status 0; 1 if every point failed; 2 for bad input.",
    )
    parser.add_argument("spec", metavar="SPEC.toml", help="sweep specification (keys: docs/sweep.md)")
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="directory for the results and the cache (created; re-use it to resume)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run on an existing Dask cluster (its workers need rnnhw installed) instead of "
                       "a local one")
    where.add_argument("--workers", metavar="N", type=int,
                       help=f"worker processes of the local cluster (default: the cores, here "
                       f"{default_workers()})")
    where.add_argument("--serial", action="store_true", help="evaluate the points one after the other in "
                       "this process, without Dask")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.workers is not None:
        integer_option(args.workers, "--workers", 1, 4096)
    if args.scheduler is not None and not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://\S+", args.scheduler):
        raise UserError(f"--scheduler {args.scheduler!r}: give the scheduler's address, e.g. tcp://HOST:8786")
    runner = Runner(serial=args.serial, workers=args.workers, scheduler=args.scheduler)
    outcome = run_sweep(args.spec, args.output, runner=runner, progress=not args.quiet)
    ok = len(outcome.rows) - outcome.failed
    print(f"{len(outcome.rows)} points: {ok} ok, {outcome.failed} failed; {outcome.computed} computed, "
          f"{outcome.cached} from the cache")
    if outcome.recommended is not None:
        from rnnhw.sweep.report import COLUMNS

        values = " ".join(f"{k}={v}" for k, v in outcome.recommended.items() if k not in COLUMNS) or "base"
        print(f"recommended: {values}")
    else:
        print("recommended: no point meets the constraints")
    print(f"wrote {', '.join(f'{args.output}/{name}' for name in outcome.files)}")
    if outcome.all_failed:
        first = outcome.rows[0]["reason"]
        print(f"rnnhw sweep: error: every point failed (the first: {first}); see {args.output}/report.md",
              file=sys.stderr)
        return 1
    return 0
