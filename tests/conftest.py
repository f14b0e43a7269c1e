"""Suite-wide checks.

Every test that starts an HDL simulator (Verilator or Icarus) carries the ``sim`` marker, so that
``pytest -m "not sim"`` runs everything else. Simulations start through cocotb's runner
(:mod:`rnnhw.sim.runner` builds models with ``Runner.build`` and runs the testbench with
``Runner.test``); a test without the marker that gets there fails, naming the marker. Tests that call a
simulator's executable directly (Verilator lint, Icarus compile in ``test_generate.py``) carry the
marker too.
"""

from __future__ import annotations

import pytest
from cocotb_tools.runner import Runner


@pytest.fixture(autouse=True)
def _simulators_need_the_sim_marker(request, monkeypatch):
    if request.node.get_closest_marker("sim") is not None:
        return

    def refuse(*args, **kwargs):
        pytest.fail(f"{request.node.nodeid} starts an HDL simulator: mark it @pytest.mark.sim", pytrace=False)

    monkeypatch.setattr(Runner, "build", refuse)
    monkeypatch.setattr(Runner, "test", refuse)
