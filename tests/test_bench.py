"""The benchmark scripts' tables and derived numbers, on canned measurements (no simulator, no synthesis)."""

import json

import numpy as np
import pytest

from bench import hardware, run_all
from bench.designs import Design
from bench.hardware import HardwareRow, SynthOutcome, findings, main_table, targets_table
from bench.run_all import SCRIPTS, durations_table
from bench.sim import SimMeasurement
from bench.sim import markdown as sim_markdown

SMALL = Design("lstm", 12, 32, lanes=8, head=9)
BIG = Design("lstm", 64, 128, lanes=16)
GRU = Design("gru", 12, 32, lanes=8)
ECP5 = "LFE5UM-85F"
NO_BRAM = "the design does not fit the LFE5UM-85F: it needs 300 block RAMs (DP16KD), the LFE5UM-85F has 208"


def test_design_labels_sizes_and_inputs():
    assert SMALL.label == "LSTM I=12 H=32 head=9 P=8"
    assert Design("rnn_tanh", 1, 16, lanes=4).label == "Elman tanh I=1 H=16 P=4"
    assert SMALL.macs_per_step == 4 * 32 * (12 + 32)
    assert SMALL.config.hardware.lanes == 8 and SMALL.config.model.head == 9
    short, long = SMALL.inputs(3), SMALL.inputs(6)
    assert short.shape == (1, 3, 12) and long.shape == (1, 6, 12)
    np.testing.assert_array_equal(long[:, :3], short)  # runs of T and 2T steps share their first T


def test_sim_table():
    m = SimMeasurement(design=SMALL.label, simulator="verilator", version="5.048", build_seconds=17.25,
                       steps=2000, cycles=1_408_073, seconds=4.5, short_steps=2, short_cycles=1_481,
                       short_seconds=0.75)
    icarus = SimMeasurement(design=BIG.label, simulator="icarus", version="11.0", build_seconds=1.0, steps=20,
                            cycles=122_920, seconds=27.0, short_steps=2, short_cycles=12_328, short_seconds=3.85)
    assert sim_markdown([m, icarus], ["Icarus rows skipped: icarus is not installed here."]) == (
        "| design | simulator | build (s) | steps | cycles | run (s) | cycles/s | timesteps/s "
        "| steady cycles/s | steady timesteps/s | start-up (s) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| LSTM I=12 H=32 head=9 P=8 | Verilator 5.048 | 17.2 | 2,000 | 1,408,073 | 4.50 | 312,905 | 444 "
        "| 375,091 | 533 | 0.75 |\n"
        "| LSTM I=64 H=128 P=16 | Icarus 11.0 | 1.0 | 20 | 122,920 | 27.00 | 4,553 | 0.741 | 4,777 | 0.778 "
        "| 1.27 |\n"
        "\n"
        "Icarus rows skipped: icarus is not installed here."
    )


def _rows():
    return [
        HardwareRow(design=SMALL, measured=704.0, expected=704, bound=704,
                    ecp5=SynthOutcome("ecp5", ECP5, luts=5000, ffs=3000, dsps=8, brams=6, fmax_mhz=140.25,
                                      seconds=60.0)),
        HardwareRow(design=BIG, measured=6150.5, expected=6144, bound=6144,
                    ecp5=SynthOutcome("ecp5", ECP5, error=NO_BRAM)),
        HardwareRow(design=GRU, measured=528, expected=528, bound=528,
                    ecp5=SynthOutcome("ecp5", ECP5, luts=4321, ffs=2345, dsps=9, brams=4, fmax_mhz=155.0,
                                      seconds=50.0)),
    ]


def test_hardware_derived_numbers():
    small = _rows()[0]
    assert small.utilization == 1.0
    assert small.latency_us == 704 / 140.25
    assert small.gops == pytest.approx(2 * 5632 * 140.25e6 / 704 / 1e9, rel=1e-15)
    assert small.peak_fraction == pytest.approx(8 * 140.25 / (156 * 246.67), rel=1e-15)
    assert _rows()[1].latency_us is None and _rows()[1].gops is None and _rows()[1].peak_fraction is None


def test_hardware_table():
    assert main_table(_rows()) == (
        "| design | P | cycles/step measured | schedule | bound | utilization | LUTs | FFs | DSPs | BRAMs "
        "| Fmax (MHz) | latency/step (µs) | GOP/s | peak |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| LSTM I=12 H=32 head=9 | 8 | 704 | 704 | 704 | 1.000 | 5,000 | 3,000 | 8 | 6 | 140.2 | 5.02 "
        "| 2.24 | 2.92% |\n"
        "| LSTM I=64 H=128 | 16 | 6,150.5 | 6,144 | 6,144 | 0.999 | — | — | — | — | — | — | — | — |\n"
        "| GRU I=12 H=32 | 8 | 528 | 528 | 528 | 1.000 | 4,321 | 2,345 | 9 | 4 | 155.0 | 3.41 | 2.48 "
        "| 3.22% |"
    )


def test_hardware_findings_name_every_departure():
    assert findings(_rows()) == [
        "LSTM I=12 H=32 head=9 P=8: Fmax 140.2 MHz on the LFE5UM-85F, under the 150 MHz target.",
        "LSTM I=64 H=128 P=16: measured 6,150.5 cycles per step, the schedule model predicts 6,144 (+0.1%).",
        f"LSTM I=64 H=128 P=16: no ECP5 result: {NO_BRAM}.",
        "GRU I=12 H=32 P=8: 9 DSP blocks (MULT18X18D), not the lanes' 8 (P = 8).",
    ]
    assert findings(_rows()[:1], fmax_target=140.0) == []


def test_lanes_goals_and_tree_table():
    from bench import lanes

    assert [d.label for d in lanes.DESIGNS] == [f"LSTM I=64 H=128 (elementwise DSP) P={p}" for p in (16, 32, 64, 128)]
    assert {d.config.hardware.elementwise_multipliers for d in lanes.DESIGNS} == {"dsp"}
    fast = SynthOutcome("ecp5", ECP5, luts=1, ffs=1, dsps=64, brams=1, fmax_mhz=151.2)
    slow = SynthOutcome("ecp5", ECP5, luts=1, ffs=1, dsps=131, brams=1, fmax_mhz=149.9)
    rows = [HardwareRow(design=lanes.DESIGNS[2], measured=1536, expected=1536, bound=1536, ecp5=fast),
            HardwareRow(design=lanes.DESIGNS[3], measured=770, expected=768, bound=768, ecp5=slow)]
    assert lanes.goals(rows) == [
        "LSTM I=64 H=128 (elementwise DSP) P=64: 151.2 MHz, utilization 1.000, measured cycles = the schedule "
        "model: meets the goal (>= 150 MHz, >= 0.99).",
        "LSTM I=64 H=128 (elementwise DSP) P=128: 149.9 MHz, utilization 0.997, measured cycles != the model's "
        "768: **misses** the goal (>= 150 MHz, >= 0.99).",
    ]
    assert findings(rows) == [
        "LSTM I=64 H=128 (elementwise DSP) P=128: measured 770 cycles per step, the schedule model predicts 768 "
        "(+0.3%).",
        "LSTM I=64 H=128 (elementwise DSP) P=128: 131 DSP blocks (MULT18X18D): the lanes' 128 and 3 of the "
        "elementwise unit (elementwise_multipliers = \"dsp\")."]
    assert lanes.tree_table(rows).splitlines()[2:] == ["| LSTM I=64 H=128 (elementwise DSP) | 64 | 8 | 1 |",
                                                       "| LSTM I=64 H=128 (elementwise DSP) | 128 | 16 | 2 |"]


def test_findings_explain_schedules_above_the_bound():
    wide = Design("lstm", 12, 32, lanes=32, head=9)  # 4 passes of 44 operands: h arrives late
    narrow = Design("rnn_tanh", 1, 16, lanes=16)  # 17 operands, 5 + 16 cycles to drain a pass
    ok = SynthOutcome("ecp5", ECP5, luts=1, ffs=1, dsps=32, brams=1, fmax_mhz=150.0)
    rows = [HardwareRow(design=wide, measured=188, expected=188, bound=176, ecp5=ok),
            HardwareRow(design=narrow, measured=21, expected=21, bound=17,
                        ecp5=SynthOutcome("ecp5", ECP5, luts=1, ffs=1, dsps=16, brams=0, fmax_mhz=150.0))]
    assert findings(rows) == [
        "LSTM I=12 H=32 head=9 P=32: 188 cycles per step, 12 above the bound (utilization 0.936), as the "
        "schedule model predicts: a step's first pass waits for h values the previous step has not finished "
        "(the h recurrence).",
        "Elman tanh I=1 H=16 P=16: 21 cycles per step, 4 above the bound (utilization 0.810), as the schedule "
        "model predicts: draining a pass of P rows takes longer than issuing its operands.",
    ]
    # 10 output rows in 2 passes of 8 lanes: 4*22 + 2*32 = 152 cycles without any wait, bound 128.
    jordan = Design("jordan", 12, 32, lanes=8, output_size=10)
    assert jordan.label == "Jordan I=12 H=32 O=10 P=8"
    row = HardwareRow(design=jordan, measured=152, expected=152, bound=128,
                      ecp5=SynthOutcome("ecp5", ECP5, luts=1, ffs=1, dsps=8, brams=1, fmax_mhz=150.0))
    assert findings([row]) == [
        "Jordan I=12 H=32 O=10 P=8: 152 cycles per step, 24 above the bound (utilization 0.842), as the schedule "
        "model predicts: its passes leave lanes idle: the reset-before GRU's r, z rows and its n rows, or the "
        "Jordan cell's gate rows and its O output rows, each fill whole passes of P."]


def test_targets_table():
    ice40 = ("the design does not fit the iCE40UP5K: it needs 9,000 logic cells (ICESTORM_LC), the iCE40UP5K "
             "has 5,280")
    entries = [(SMALL, SynthOutcome("ice40", "iCE40UP5K", error=ice40)),
               (SMALL, SynthOutcome("xc7", "xc7a35t", luts=4000, ffs=2900, dsps=8, brams=4, seconds=30.0))]
    assert targets_table(entries) == (
        "| design | target | device | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) | note |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---|\n"
        f"| LSTM I=12 H=32 head=9 P=8 | ice40 | iCE40UP5K | — | — | — | — | — | {ice40} |\n"
        "| LSTM I=12 H=32 head=9 P=8 | xc7 | xc7a35t | 4,000 | 2,900 | 8 | 4 | synthesis only | |"
    )


def test_synthesis_cache_is_read_back_without_running_the_tools(tmp_path):
    design = Design("rnn_tanh", 1, 16, lanes=4)
    outcome = SynthOutcome("ecp5", ECP5, luts=1, ffs=2, dsps=4, brams=0, fmax_mhz=200.0, seconds=9.0)
    key = hardware.synthesis_cache_key(design.verilog, "ecp5", ECP5, 150.0)
    (tmp_path / f"ecp5-{key}.json").write_text(json.dumps(outcome.to_json()))
    assert hardware.synthesize_cached(design, "ecp5", cache=tmp_path) == outcome
    assert hardware.synthesis_cache_key(design.verilog, "ecp5", "LFE5UM-45F", 150.0) != key
    assert hardware.synthesis_cache_key(design.verilog + "\n", "ecp5", ECP5, 150.0) != key
    # --cached-only: a design the cache does not hold has no resources, and no tool runs.
    missing = hardware.synthesize_cached(Design("rnn_tanh", 1, 16, lanes=2), "ecp5", cache=tmp_path, cached_only=True)
    assert missing == SynthOutcome("ecp5", ECP5, error="not synthesised in this run (--cached-only)")


def test_run_all_table_and_order():
    assert SCRIPTS == ("golden", "lut_error", "interleave", "accuracy_digits", "accuracy_ctc", "sim",
                       "multiplier_clock", "hardware", "lanes", "bidirectional", "asic", "runtime_weights")
    assert durations_table({"golden": 12.34, "hardware": 754.0}) == (
        "| script | time |\n|---|---:|\n| `bench/golden.py` | 12.3 s |\n"
        "| `bench/hardware.py` | 12 min 34.0 s |\n| total | 12 min 46.3 s |"
    )


def test_run_all_stops_at_the_first_failure(tmp_path, monkeypatch, capsys):
    (tmp_path / "ok.py").write_text("print('ok ran')\n")
    (tmp_path / "bad.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "later.py").write_text("raise SystemExit('later must not run')\n")
    monkeypatch.setattr(run_all, "BENCH", tmp_path)
    monkeypatch.setattr(run_all, "SCRIPTS", ("ok", "bad", "later"))
    assert run_all.main(["--no-write"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("run_all: bench/bad.py failed with exit status 3 after ")
    assert lines[-1].endswith(" (its message is above); not run: bench/later.py")
    assert "run_all: [3/3] bench/later.py ..." not in lines


def test_runtime_weights_table_and_load_line():
    from bench.runtime_weights import LoadMeasurement, section, table

    rom = SynthOutcome("ecp5", ECP5, luts=4267, ffs=2675, dsps=8, brams=11, fmax_mhz=163.25, seconds=500.0)
    runtime = SynthOutcome("ecp5", ECP5, luts=5000, ffs=3000, dsps=8, brams=11, fmax_mhz=150.0, seconds=600.0)
    assert table(rom, runtime) == (
        "| weights | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) | note |\n|---|---:|---:|---:|---:|---:|---|\n"
        "| rom | 4,267 | 2,675 | 8 | 11 | 163.2 | |\n| runtime | 5,000 | 3,000 | 8 | 11 | 150.0 | |")
    text = section(rom, runtime, LoadMeasurement(words=5776, cycles=23104, bit_exact=True))
    assert "5,776 words in 23,104 clock\ncycles (4.00 cycles per word" in text
    assert "cost +733 LUTs (+17 %) and +325 FFs" in text
    assert "That is 154.0 µs per model at the\nruntime core's Fmax." in text


def test_interleave_rows_and_table():
    from bench import interleave

    table = interleave.rows([Design("lstm", 12, 32, lanes=32)], (1, 2, 4))
    assert table == [("LSTM I=12 H=32 P=32", 1, 176, 195), ("LSTM I=12 H=32 P=32", 2, 176, 176),
                     ("LSTM I=12 H=32 P=32", 4, 176, 176)]
    measured = {("LSTM I=12 H=32 P=32", 2): 176.0}
    synthesized = {("LSTM I=12 H=32 P=32", 2): SynthOutcome(target="ecp5", device=ECP5, luts=8100, ffs=6000, dsps=32,
                                                            brams=36, fmax_mhz=100.0)}
    assert interleave.markdown(table[:2], measured, synthesized).splitlines()[2:] == [
        "| LSTM I=12 H=32 P=32 | 1 | 195 | — | 176 | 0.903 | — | — | — | — | — | — |",
        "| LSTM I=12 H=32 P=32 | 2 | 176 | 176 | 176 | 1.000 | 8,100 | 6,000 | 36 | 100.0 | 568,182 | 284,091 |",
    ]
    assert Design("lstm", 12, 32, lanes=32, interleave=2).label == "LSTM I=12 H=32 P=32 K=2"
    assert Design("lstm", 12, 32, lanes=32, interleave=2).config.hardware.interleave == 2


def test_bidirectional_designs_rows_and_section():
    from bench import bidirectional
    from bench.bidirectional import BidirectionalRow
    from rnnhw.examples import example_config

    both, one_way, gru = bidirectional.DESIGNS
    assert both.config == example_config("digits_bilstm")
    assert both.label == "bidirectional LSTM I=8 H=16 head=10 P=8"
    assert gru.label == "2-layer bidirectional GRU I=8 H=16 (outputs every step) P=8"
    assert both.macs_per_step == 2 * one_way.macs_per_step == 2 * 4 * 16 * (8 + 16)
    assert gru.macs_per_step == 2 * 3 * 16 * ((8 + 16) + (32 + 16))
    ok = SynthOutcome("ecp5", ECP5, luts=4000, ffs=2500, dsps=8, brams=5, fmax_mhz=150.0)
    rows = [BidirectionalRow(design=both, measured=384.0, expected=384, bound=384, ecp5=ok, overhead=96.0,
                             expected_overhead=96, single_step=392.0, single_overhead=105.0),
            BidirectionalRow(design=one_way, measured=201.0, expected=201, bound=192, ecp5=ok, overhead=40.5,
                             single_step=201.0, single_overhead=50.0)]
    assert bidirectional._per_step({32: 12_640, 64: 24_928}.get, 32) == (384.0, 352.0)
    assert rows[0].gops == pytest.approx(2 * 3072 * 150e6 / 384 / 1e9, rel=1e-15)
    table = bidirectional.markdown(rows)
    assert table.splitlines()[2:] == [
        "| bidirectional LSTM I=8 H=16 head=10 | 8 | 384 | 384 | 96 | 96 | 392 | 105 | 384 | 1.000 | 4,000 "
        "| 2,500 | 8 | 5 | 150.0 | 2.56 | 2.40 | 3.12% |",
        "| LSTM I=8 H=16 head=10 | 8 | 201 | 201 | 40.5 | — | 201 | 50 | 192 | 0.955 | 4,000 | 2,500 | 8 | 5 "
        "| 150.0 | 1.34 | 2.29 | 3.12% |",
    ]
    text = bidirectional.section(table, steps=32)
    assert text.startswith("## Bidirectional layers\n\nWritten by `bench/bidirectional.py` (issue 10).")
    assert "for T = 32 and 2T" in text and text.endswith(f"\n\n{table}\n")


def test_multiplier_clock_section_and_figures():
    from bench.multiplier_clock import MEASUREMENTS, section
    from rnnhw.spec.devices import DEVICES
    from rnnhw.spec.devices import ECP5_MULTIPLIER_FMAX_MHZ as ECP5_FMAX

    assert [(device, width, figure) for _, device, width, _, figure in MEASUREMENTS] == [
        ("LFE5UM-85F-8BG381C", 18, ECP5_FMAX[8]), ("LFE5UM-85F-7BG381C", 18, ECP5_FMAX[7]),
        ("LFE5UM-85F-6BG381C", 18, ECP5_FMAX[6]), ("iCE40UP5K", 16, DEVICES["iCE40UP5K"].multiplier_fmax_mhz)]
    text = section([("ecp5", "LFE5UM-85F-8BG381C", 18, 246.67, 246.67), ("ice40", "iCE40UP5K", 16, 198.0, 198.45)],
                   "Yosys 0.70", "abc1234")
    assert text.startswith("## Multiplier clock\n")
    assert "| LFE5UM-85F-8BG381C | 18x18 | 246.67 | 246.67 |\n| iCE40UP5K | 16x16 | 198.00 | 198.45 |" in text
    assert "Tools: Yosys 0.70; source\nabc1234." in text
