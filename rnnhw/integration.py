"""The integration README that ``rnnhw generate`` writes beside the Verilog, from ``NAME.json``'s summary."""

from __future__ import annotations

from rnnhw.spec.config import config_from_dict
from rnnhw.spec.registers import (
    ACCESS_RULES,
    ACCESSES,
    address_width,
    image_constants,
    layout_rules,
    registers,
    weight_window,
)

__all__ = ["integration_readme", "register_map"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fields_table(reg) -> str:
    rows = [f"| {f.lsb + f.width - 1}..{f.lsb} | `{f.name}` | {f.meaning} |" for f in reg.fields]
    if not rows:
        rows = [f"| 31..0 | `{reg.name}` | {reg.meaning} |"]
    return "| bits | field | meaning |\n|---|---|---|\n" + "\n".join(rows)


def register_map(config, name: str) -> str:
    """The README's register map of a runtime core (``spec/registers.py``), a table per register."""
    regs = registers(config)
    summary = "\n".join(f"| `0x{r.offset:03X}` | [`{r.name}`](#{r.name.lower()}) | {r.access} | `0x{r.reset:08X}` | "
                        f"{r.meaning} |" for r in regs)
    details = "\n\n".join(f"### {r.name}\n\nOffset `0x{r.offset:03X}`, {ACCESSES[r.access]}, reset "
                          f"`0x{r.reset:08X}`: {r.meaning}.\n\n{_fields_table(r)}"
                          for r in regs)
    regions = "\n".join(f"| `{w.name}` | `0x{w.base:05X}` | {w.lanes} | {w.depth} | {w.lane_stride} | {w.word_bits}"
                        f"{' (signed)' if w.signed else ''} | {_cell(w.meaning)} |" for w in weight_window(config))
    constants = "\n".join(f"| `{key}` | {value} | {meaning} |" for key, value, meaning in image_constants(config))
    rules = "\n".join(f"- {rule}" for rule in ACCESS_RULES)
    layout = "\n".join(f"- {rule}" for rule in layout_rules(config))
    return f"""## Register map (AXI4-Lite)

This core is built with `weights = "runtime"`: its weights are not in the bitstream. The `s_axil_*` ports
({address_width(config)}-bit byte addresses, 32-bit data) reach the registers below and a weight window through
which the host writes every weight and bias before the first sequence. `{name}.h` has every number of this
section for C; `rnnhw.driver.CoreDriver` checks the core and loads a weights file from Python (on a board through
PYNQ's `MMIO` or `rnnhw.driver.MappedBus`, see the rnnhw README). The memories hold zeros after configuration.

{rules}

| offset | register | access | reset | meaning |
|---|---|---|---|---|
{summary}

{details}

## Weight window

Word `i` of lane `p` of a region is at byte address `base + 4 * (p * lane stride + i)`. A write stores the
word's low bits; a read returns them sign-extended (signed regions) or zero-extended.

| region | base | lanes | words per lane | lane stride (words) | bits | contents |
|---|---|---|---|---|---|---|
{regions}

{layout}

| constant | value | meaning |
|---|---|---|
{constants}
"""


def _output_numbers(model: dict, summary: dict) -> str:
    if model.get("ctc_blank") is not None:
        return "a two's complement label index"
    return f"`{summary['output_format']}`"


def _framing(model: dict) -> str:
    if model.get("ctc_blank") is not None:
        return ""
    return ", one element per beat, `m_axis_tlast`\n  on the last element of each vector"


def _head_cycles(model: dict, summary: dict) -> str:
    if not model["head"] or model.get("bidirectional"):  # a bidirectional core's are in its sequence cycles
        return ""
    if model["return_sequences"]:
        return "The head's passes at every timestep are included."
    return f"With a head, each sequence adds {summary['head_cycles_per_sequence']} cycles."


def _bidirectional_protocol(summary: dict) -> str:
    """What a bidirectional core adds to the protocol: whole sequences, the length limit, the overflow flag."""
    if not summary["config"]["model"].get("bidirectional"):
        return ""
    steps = summary["bidirectional"]["max_sequence_length"]
    return f"""
- **Bidirectional layers.** Each layer's output at step t is `[h_fwd_t ; h_bwd_t]` (forward half first); the
  final vector is `[h_fwd_(T-1) ; h_bwd_0]`. The backward direction starts at a sequence's last step, so the
  core buffers whole sequences (two: the next one loads while one computes) and starts a sequence once its
  `tlast` is in. A sequence may have at most {steps} timesteps (`hardware.max_sequence_length`). A longer one
  is dropped: the core accepts and discards its remaining beats up to its `tlast`, sends nothing for it,
  and sets `sequence_overflow`, which stays high until `rst`; the next sequence is processed normally."""


def _interleave_protocol(summary: dict) -> str:
    """What interleaved sequences add to the protocol: the stream ids and the order of the input."""
    info = summary.get("interleave")
    if not info:
        return ""
    k = info["streams"]
    return f"""
- **Interleaved sequences ({k} streams).** The core runs {k} independent sequences at once, each with its
  own state. `s_axis_tid` names the stream (0..{k - 1}) of each input beat; `m_axis_tid` the stream of each
  output beat (one vector carries one stream), and each stream's outputs keep their order. The core walks
  the streams round-robin, one timestep each: send whole timesteps in that order (stream 0's timestep, then
  stream 1's, ..., then stream 0's next one; each stream's buffer takes one timestep ahead), since
  `s_axis_tready` serves all streams. A stream with nothing to send stalls the others: keep every stream
  fed (e.g. with padding sequences whose outputs you ignore). `tlast` ends a sequence of its stream only."""


def _interleave_cycles(summary: dict) -> str:
    info = summary.get("interleave")
    if not info:
        return ""
    return (f"Cycles per timestep count the timesteps of all {info['streams']} streams (one stream alone: "
            f"{info['cycles_per_step_one_stream']}).")


def _bidirectional_cycles(summary: dict) -> str:
    if not summary["config"]["model"].get("bidirectional"):
        return ""
    info = summary["bidirectional"]
    return (f"Both directions of every layer count in the bound. A sequence of T timesteps takes "
            f"{summary['expected_cycles_per_step']}*T + "
            f"{info['overhead_cycles_per_sequence']} cycles once it is in (both directions of every layer on the "
            f"shared lanes, then the outputs; {info['cycles_per_sequence_of_max_length']:,} at T = "
            f"{info['max_sequence_length']}); the next sequence loads meanwhile.")


def integration_readme(summary: dict) -> str:
    """``README.md`` for someone integrating the generated core."""
    model = summary["config"]["model"]
    name, vector = summary["name"], summary["output_vector"]
    if model["cell"] == "jordan":
        which = "per timestep (the last layer's y_t)" if model["return_sequences"] else \
            "per sequence (the last layer's final y)"
        outputs = f"one vector of {vector} output values {which}"
    elif model.get("ctc_blank") is not None:
        outputs = (f"each sequence's CTC-decoded labels (classes 0..{model['head'] - 1}, blank "
                   f"{model['ctc_blank']}: per step the argmax of the head's logits, lowest index on ties, repeats "
                   "collapsed, blanks dropped) as one frame, one label per beat, `m_axis_tlast` on the last label; a "
                   "sequence that decodes to nothing sends one beat of -1 (all ones) with `m_axis_tlast`")
    elif model["head"] and model["return_sequences"]:
        outputs = f"one vector of {vector} head outputs per timestep (the head applied to the last layer's h_t)"
    elif model["head"]:
        outputs = f"one vector of {vector} head outputs per sequence"
    elif model["return_sequences"]:
        outputs = f"one vector of {vector} hidden-state values per timestep (the last layer's h_t)"
    else:
        outputs = f"one vector of {vector} values per sequence (the last layer's final hidden state)"
    if model.get("bidirectional") and not model["head"]:
        outputs = outputs.replace("h_t", "[h_fwd_t ; h_bwd_t]").replace("final hidden state", "[h_fwd ; h_bwd]")
    rows = "\n".join(f"| `{p['name']}` | {p['direction']} | {p['width']} | {p['meaning']} |" for p in summary["ports"])
    config = config_from_dict(summary["config"])
    runtime = config.hardware.weights == "runtime"
    storage = ("Weights are loaded at run time through the AXI4-Lite slave (see the register map below)."
               if runtime else "Weights are in on-chip memories; nothing needs loading at run time.")
    registers_section = "\n" + register_map(config, name) if runtime else ""
    return f"""# {name}

Generated by rnnhw: a fixed-point `{model['cell']}` accelerator, input size {model['input_size']}, hidden size
{model['hidden_size']}, {model['num_layers']} layer(s), head {model['head'] or 'none'}, on {summary['lanes']}
multiply-accumulate lanes. {storage}

## Ports

| port | direction | width | meaning |
|---|---|---|---|
{rows}

## Protocol

- **Clock and reset.** Everything is synchronous to the rising edge of `clk`. `rst` (active high,
  synchronous) returns the core to idle and discards any partial sequence; hold it for one cycle or more.
- **Input (AXI4-Stream slave).** A beat transfers when `s_axis_tvalid` and `s_axis_tready` are both high.
  Send each timestep's {model['input_size']} features in order, timesteps in order. Assert `s_axis_tlast`
  with the last feature of a sequence's last timestep. Sequences of any length follow each other back to back;
  the state is zero at the start of every sequence. `tlast` on any other beat is ignored.\
{_bidirectional_protocol(summary)}{_interleave_protocol(summary)}
- **Output (AXI4-Stream master).** {outputs[0].upper() + outputs[1:]}{_framing(model)}.
  `m_axis_tready` may be held low for any time: nothing is lost,
  duplicated or reordered (the core stalls).
- **Numbers.** `s_axis_tdata` is a two's complement `{summary['input_format']}` (value = integer /
  2^fraction bits); `m_axis_tdata` is {_output_numbers(model, summary)}. Quantize inputs with the configured rounding
  and saturation (`rnnhw golden` does exactly this).

## Performance

{summary['expected_cycles_per_step']} clock cycles per timestep in steady state (bound
ceil(G*H*(I+H)/P) summed over layers: {summary['bound_cycles_per_step']}); {summary['macs_per_step']:,}
multiply-accumulates per timestep. {" ".join(filter(None, (_head_cycles(model, summary), _interleave_cycles(summary))))}
{_bidirectional_cycles(summary) or "The input of timestep t+1 is accepted while timestep t computes."}

## Memories

{summary['weight_memory']['words_per_lane']} weight words of {summary['weight_memory']['word_bits']} bits per lane
({summary['weight_memory']['bits']:,} bits in all), state memory {summary['state_memory_bits']:,} bits,
sigmoid/tanh tables of {summary['tables']['sigmoid']['stored_words']}/{summary['tables']['tanh']['stored_words']}
words. `{name}.json` has every number of this page in machine-readable form.
{registers_section}"""
