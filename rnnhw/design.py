"""What a generated design is: sizes, schedule, memories, tables and ports (``NAME.json``)."""

from __future__ import annotations

from rnnhw.config import Config
from rnnhw.golden.datapath import datapath, lane_accumulator
from rnnhw.rtl.schedule import Schedule, bound_cycles_per_step, macs_per_step

__all__ = ["design_summary", "ports"]


def ports(config: Config) -> list[dict]:
    """The top level's ports: name, direction, width and meaning."""
    n = config.numerics
    out = config.output_format
    return [
        {"name": "clk", "direction": "input", "width": 1, "meaning": "clock (rising edge)"},
        {"name": "rst", "direction": "input", "width": 1, "meaning": "synchronous reset, active high"},
        {"name": "s_axis_tdata", "direction": "input", "width": n.input.width,
         "meaning": f"input element, {n.input} two's complement"},
        {"name": "s_axis_tvalid", "direction": "input", "width": 1, "meaning": "input element valid"},
        {"name": "s_axis_tready", "direction": "output", "width": 1, "meaning": "input element accepted"},
        {"name": "s_axis_tlast", "direction": "input", "width": 1,
         "meaning": "last element of a sequence (with element I-1 of its last timestep)"},
        {"name": "m_axis_tdata", "direction": "output", "width": out.width,
         "meaning": f"output element, {out} two's complement"},
        {"name": "m_axis_tvalid", "direction": "output", "width": 1, "meaning": "output element valid"},
        {"name": "m_axis_tready", "direction": "input", "width": 1, "meaning": "output element accepted"},
        {"name": "m_axis_tlast", "direction": "output", "width": 1, "meaning": "last element of an output vector"},
    ]


def design_summary(config: Config, name: str) -> dict:
    """Everything ``NAME.json`` reports about a design (see ``docs/architecture.md``)."""
    model, n, sch = config.model, config.numerics, Schedule(config)
    dp = datapath(config)
    acc_frac, acc_width = lane_accumulator(dp)
    weight_words = sch.weight_depth * sch.lanes
    tables = {}
    for function in ("sigmoid", "tanh"):
        table = dp.table(function)
        tables[function] = {"entries": table.size, "stored_words": len(table.entries),
                            "range": 2**table.range_log2, "interpolate": table.interpolate,
                            "format": str(table.out_fmt)}
    return {
        "name": name,
        "config": config.to_dict(),
        "lanes": sch.lanes,
        "macs_per_step": sum(macs_per_step(config, k) for k in range(model.num_layers)),
        "bound_cycles_per_step": bound_cycles_per_step(config),
        "expected_cycles_per_step": sch.cycles_per_step(),
        "passes_per_layer": sch.passes,
        "head_cycles_per_sequence": sch.head_passes * model.hidden_size,
        "accumulator": {"width": acc_width, "frac_bits": acc_frac},
        "weight_memory": {"words_per_lane": sch.weight_depth, "word_bits": n.weight.width,
                          "bits": weight_words * n.weight.width},
        "bias_memory_bits": sch.bias_depth * sch.lanes * n.bias.width * (2 if model.cell == "gru" else 1),
        "state_memory_bits": 2 * model.num_layers * model.hidden_size * n.state.width,
        "tables": tables,
        "input_format": str(n.input),
        "output_format": str(config.output_format),
        "output_vector": model.output_size,
        "ports": ports(config),
    }
