"""``rnnhw demo`` end to end on a few sequences (the full demo is ``make demo``)."""

import json

import pytest

from rnnhw.cli import main


@pytest.mark.sim
def test_demo_writes_a_bit_exact_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--sequences", "6"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "report.json", "report.md", "rnnhw_top.json", "rnnhw_top.v", "sweep.png"]
    report = json.loads((out / "report.json").read_text())
    rtl = report["accuracy"]["rtl"]
    assert rtl["bit_exact"] is True and rtl["mismatches"] == 0 and rtl["sequences"] == 6
    # Steady state 640 cycles/step; back-to-back 8-step sequences add the head and the drain.
    assert 640 <= rtl["cycles_per_step"] < 680
    assert [p["bits"] for p in report["sweep"]["sweep"]] == [4, 6, 8, 10, 12, 16]
    assert report["design"]["bound_cycles_per_step"] == 640
    text = (out / "report.md").read_text()
    assert "bit-exact with the golden model" in text and "![accuracy against width](sweep.png)" in text
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_rejects_bad_options_without_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--sequences", "0"]) == 2
    err = capsys.readouterr().err
    assert "--sequences must be from 1 to 540" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
