"""Throughput of the bit-exact golden model and of the float64 reference, in timestep*samples per second.

Run ``python bench/golden.py`` (``--no-write`` to only print; ``--repeats N``): prints a markdown
table and writes it to the "Golden model speed" section of ``docs/BENCHMARKS.md``.

Cases: LSTM I=12 H=32 with a 9-output head on 370 sequences of 29 steps (the size of a small
sensor-classification data set), and LSTM I=64 H=128 on the same batch. Default numerics
(``fixed<16,6>`` values, ``fixed<40,16>`` accumulator, 1024-entry tables). Everything is measured
warm (tables are built once per format and cached; the first run is not timed), on one core: BLAS
is limited to one thread. The machine is shared, so each figure is the best of ``--repeats`` runs,
in wall-clock time; the CPU time of that run is shown beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from rnnhw.golden.float_ref import float_forward
from rnnhw.golden.model import GoldenModel
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.weights import quantize_weights, random_weights

try:
    from .benchmarks_md import machine_line, replace_section
except ImportError:  # run as a script
    from benchmarks_md import machine_line, replace_section

BATCH, STEPS = 370, 29
CASES = {
    "LSTM I=12 H=32 head=9": {"cell": "lstm", "input_size": 12, "hidden_size": 32, "head": 9},
    "LSTM I=64 H=128": {"cell": "lstm", "input_size": 64, "hidden_size": 128},
}
GOAL = 1_000_000  # timestep*samples per second for the first case


def best_time(run, repeats: int) -> tuple[float, float]:
    """(best wall-clock seconds, CPU seconds of that run) over ``repeats`` runs after one warm-up."""
    run()
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def measure(model_keys: dict, repeats: int) -> dict[str, float]:
    config = config_from_dict({"model": model_keys})
    weights = random_weights(config, seed=0)
    golden = GoldenModel(config, quantize_weights(weights, config))
    x = np.random.default_rng(1).normal(size=(BATCH, STEPS, config.model.input_size))
    x_int, _ = golden.quantize_inputs(x)
    work = BATCH * STEPS
    golden_wall, golden_cpu = best_time(lambda: golden.run(x_int), repeats)
    float_wall, float_cpu = best_time(lambda: float_forward(config, weights, x), repeats)
    return {"golden": work / golden_wall, "golden_cpu": work / golden_cpu,
            "float": work / float_wall, "float_cpu": work / float_cpu}


def markdown(results: dict[str, dict[str, float]]) -> str:
    lines = ["| case | golden model | float64 reference | golden / float |", "|---|---:|---:|---:|"]
    for case, r in results.items():
        lines.append(f"| {case} | {r['golden']:,.0f} ({r['golden_cpu']:,.0f} CPU) | {r['float']:,.0f} "
                     f"({r['float_cpu']:,.0f} CPU) | {r['golden'] / r['float']:.2f} |")
    return "\n".join(lines)


def section(table: str, repeats: int) -> str:
    return f"""## Golden model speed

Written by `bench/golden.py`. Timestep*samples per second (higher is better) of `GoldenModel.run`
(bit-exact integers) and `float_forward` (float64 reference), for a batch of {BATCH} sequences of
{STEPS} steps with the default numerics; best of {repeats} warm runs in wall-clock time, with the
rate by CPU time of the same run in parentheses. One core: BLAS limited to one thread (the golden
model does this itself). Machine: {os.cpu_count()} cores shared with other jobs while measuring;
{machine_line()}. Goal: at least {GOAL:,} for the first case; the golden model as first written ran
it at about 300,000 (one measurement, before the optimisations described in `golden/model.py`).

{table}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per measurement (default 15)")
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    with threadpool_limits(1, "blas"):
        results = {case: measure(keys, args.repeats) for case, keys in CASES.items()}
    text = section(markdown(results), args.repeats)
    print(text)
    if not args.no_write:
        replace_section("golden", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
