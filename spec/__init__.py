"""The specification: the bottom layer every other one reads, and which imports none of them.

Configuration (:mod:`.config`), number formats and rounding (:mod:`.fixed`), activation tables
(:mod:`.lut`), derived widths (:mod:`.datapath`), weights and their quantization (:mod:`.weights`),
pipeline latencies (:mod:`.latency`), the schedule and memory images (:mod:`.schedule`), what a design
is — ports, memories, lane parameters (:mod:`.design`) — and the error types (:mod:`.errors`).

The layers above it, in import order: ``rnnhw.golden`` (bit-exact model), ``rnnhw.rtl`` (Amaranth),
``rnnhw.sim`` (cocotb), and the application (``rnnhw.cli``, ``rnnhw.commands`` and the flows).
"""
