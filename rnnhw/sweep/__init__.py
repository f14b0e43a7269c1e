"""Design-space exploration: ``rnnhw sweep SPEC.toml -o DIR`` on one machine or on a Dask cluster.

* :mod:`.spec` reads and checks the sweep specification (every key in :data:`.spec.KEYS`),
* :mod:`.points` builds the grid's points and evaluates one point (accuracy, cycles, synthesis, RTL),
* :mod:`.cache` keys and stores each point's result under ``DIR/points/``,
* :mod:`.cluster` runs the points: serially, on a local Dask cluster or on an existing one,
* :mod:`.report` writes ``results.csv``, ``results.json``, the Pareto plots and ``report.md``.

:func:`run_sweep` ties them together; ``docs/sweep.md`` documents the specification and the outputs.
"""

from .run import SweepOutcome, run_sweep

__all__ = ["run_sweep", "SweepOutcome"]
