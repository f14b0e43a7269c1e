"""Reading ONNX models: ``LSTM``, ``GRU`` and ``RNN`` operators, forward or bidirectional, stacked, with an
optional linear head on the final state or on every step.

The graph is run on element identities (:mod:`rnnhw.onnx_trace`): from the graph input through the
recurrent nodes to the chosen graph output, whatever reshaping glue lies between. Each recurrent node
must read the graph input (the first) or the whole output sequence of the node before; the head
(``Gemm``, or ``MatMul`` with an optional ``Add``) must read the last layer's hidden states; the output
must be the head's output or the last layer's hidden state, for each sequence's final state or at every
step. A bidirectional node's output at each step is ``[h_fwd ; h_bwd]`` and its final state
``[h_fwd at the last step ; h_bwd at the first]``; its backward weights (``W[1]``, ``R[1]``, ``B[1]``)
become the ``*_reverse`` tensors. Weights are converted from ONNX's gate orders (LSTM i, o, f, c; GRU
z, r, h) and bias layout (``[Wb ; Rb]``) to PyTorch's (LSTM i, f, g, o; GRU r, z, n; ``bias_ih``,
``bias_hh``).
docs/import.md lists every mapping and refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnhw.model_import import (
    DIRECTIONS,
    ImportedHead,
    ImportedLayer,
    ImportedModel,
    check_layer,
    gates_to_pytorch,
)
from rnnhw.onnx_trace import CONSTANT_OPS, GLUE_OPS, Ids, Space, Spaces, attributes, node_name, run_glue
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import LayerWeights

__all__ = ["read_onnx", "RECURRENT_OPS", "SUPPORTED_OPS"]

#: ONNX gate block of each PyTorch gate block, and the default activations of one direction.
RECURRENT_OPS = {
    "LSTM": {"order": (0, 2, 3, 1), "activations": ("sigmoid", "tanh", "tanh")},
    "GRU": {"order": (1, 0, 2), "activations": ("sigmoid", "tanh")},
    "RNN": {"order": (0,), "activations": ("tanh",)},
}
HEAD_OPS = ("Gemm", "MatMul", "Add")
SUPPORTED_OPS = (*RECURRENT_OPS, *HEAD_OPS, *GLUE_OPS, *CONSTANT_OPS)
#: Sizes given to symbolic dimensions of the graph inputs: distinct and above 1, so no axis is ambiguous,
#: and unlike sizes models are exported with.
_SYMBOLIC_SIZES = (7, 11, 13, 17, 19, 23, 29, 31)
#: Graph-input axis orders tried for the first layer, most usual first: [N, T, I], then [T, N, I].
_INPUT_ORDERS = ((1, 0, 2), (0, 1, 2))


@dataclass
class _Layer:
    """A traced recurrent layer: what it is and the ids of its outputs."""

    layer: ImportedLayer
    sequence: np.ndarray  # [T, N, D*H]: every step's hidden state, directions concatenated
    final: np.ndarray  # [N, D*H]: each sequence's final hidden state
    rows: dict = field(default_factory=dict)  # bytes of a state row -> its index in head spaces

    def __post_init__(self):
        # The final states come first: rows 0..N-1. A step's state that is also a final state keeps its index.
        for rows in (self.final, *self.sequence):
            for row in rows:
                self.rows.setdefault(row.tobytes(), len(self.rows))

    @property
    def final_rows(self) -> np.ndarray:
        return np.arange(len(self.final))


@dataclass
class _Head:
    head: ImportedHead
    space: Space  # ids of its outputs: one row of C per state row of the last layer


def read_onnx(path: Path, output: str | None = None) -> ImportedModel:
    """Read an ONNX file; ``output`` names the graph output that is the model's (needed when there are several)."""
    try:
        import onnx
    except ImportError:
        raise UserError("importing ONNX models needs the onnx package: pip install onnx") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises many kinds for a file that is not a model
        raise UserError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    if not model.graph.output:  # protobuf parses many non-ONNX files to an empty model
        raise UserError(f"{path}: not an ONNX model (no graph outputs); give a file written by an ONNX exporter")
    return _Tracer(model.graph, f'ONNX graph "{model.graph.name}" ({path.name})').run(output)


class _Tracer:
    def __init__(self, graph, source: str):
        self.graph, self.source = graph, source
        self.spaces = Spaces()
        self.values: dict = {}
        self.graph_inputs: dict[str, Space] = {}
        self.layers: list[_Layer] = []
        self.head: _Head | None = None
        self.notes: list[str] = []
        self.lengths_input: str | None = None
        self.shapeless: set[str] = set()
        self.fixed: dict[str, list[bool]] = {}  # graph input -> whether each axis has a fixed size
        self.steps: int | None = None  # the first layer's fixed sequence length

    # -- the walk --------------------------------------------------------------------------------

    def run(self, output: str | None) -> ImportedModel:
        from onnx import numpy_helper

        name = self._choose_output(output)
        for tensor in self.graph.initializer:
            self.values[tensor.name] = numpy_helper.to_array(tensor)
        self._add_graph_inputs()
        needed = self._needed_nodes(name)
        try:
            for index, node in enumerate(self.graph.node):
                if index in needed:
                    self._run_node(node)
            if name not in self.values:
                raise UserError(f"{self.source}: graph output {name!r} is not produced by any node")
            return_sequences = self._check_output(name, self.values[name])
        except UserError:
            for traced in self.layers:  # a layer rnnhw cannot run explains what follows it best
                check_layer(self.source, traced.layer)
            raise
        return ImportedModel(self.source, tuple(t.layer for t in self.layers),
                             None if self.head is None else self.head.head, return_sequences, tuple(self.notes),
                             self.steps)

    def _choose_output(self, output: str | None) -> str:
        names = [o.name for o in self.graph.output]
        if output is not None:
            if output not in names:
                raise UserError(f"--graph-output {output!r}: {self.source} has no such output; its outputs are "
                                f"{', '.join(names)}")
            return output
        if len(names) != 1:
            raise UserError(f"{self.source} has {len(names)} outputs ({', '.join(names)}); choose the model's "
                            "output with --graph-output NAME")
        return names[0]

    def _add_graph_inputs(self):
        sizes, fresh = {}, iter(_SYMBOLIC_SIZES)
        for value in self.graph.input:
            if value.name in self.values:  # an initializer listed as an input (older exporters)
                continue
            if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
                self.shapeless.add(value.name)  # an error only if a node reads it
                continue
            shape, self.fixed[value.name] = [], []
            for dim in value.type.tensor_type.shape.dim:
                self.fixed[value.name].append(dim.HasField("dim_value") and dim.dim_value > 0)
                if self.fixed[value.name][-1]:
                    shape.append(dim.dim_value)
                else:
                    key = dim.dim_param or object()
                    if key not in sizes:
                        sizes[key] = next(fresh, 37)
                    shape.append(sizes[key])
            space = self.spaces.new(f'graph input "{value.name}"', shape)
            self.graph_inputs[value.name] = space
            self.values[value.name] = Ids(space.ids)

    def _needed_nodes(self, output: str) -> set[int]:
        producer = {name: i for i, node in enumerate(self.graph.node) for name in node.output if name}
        needed, todo = set(), [output]
        while todo:
            name = todo.pop()
            index = producer.get(name)
            if index is None or index in needed:
                continue
            needed.add(index)
            todo.extend(n for n in self.graph.node[index].input if n)
        return needed

    def _run_node(self, node):
        op = node.op_type
        inputs = [self._value(node, name) if name else None for name in node.input]
        if op in RECURRENT_OPS:
            outputs = self._recurrent(node, inputs)
        elif op in HEAD_OPS and any(isinstance(v, Ids) for v in inputs):
            outputs = [getattr(self, f"_{op.lower()}")(node, inputs)]
        elif op in GLUE_OPS or op in CONSTANT_OPS:
            try:
                outputs = run_glue(node, inputs)
            except UserError as exc:
                raise UserError(f"{self.source}: {exc}") from None
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                raise UserError(f"{self.source}: {node_name(node)} cannot be evaluated ({exc})") from None
        else:
            raise UserError(f"{self.source}: operator {op} ({node_name(node)}) is not supported; rnnhw imports "
                            "LSTM, GRU and RNN nodes, a linear head (Gemm, or MatMul and Add) and reshaping "
                            "glue (Transpose, Squeeze, Unsqueeze, Slice, Gather, Concat, Reshape, ...)")
        for name, value in zip(node.output, outputs, strict=False):
            if name:
                self.values[name] = value

    def _value(self, node, name: str):
        if name in self.shapeless:
            raise UserError(f'{self.source}: graph input "{name}" has no tensor shape; export with input shapes')
        if name not in self.values:
            raise UserError(f"{self.source}: {node_name(node)} reads {name!r}, which no node before it produces")
        return self.values[name]

    def _fail(self, where: str, message: str):
        raise UserError(f"{self.source}: {where} {message}")

    def _constant(self, node, value, what: str) -> np.ndarray:
        if isinstance(value, Ids):
            self._fail(node_name(node), f"takes its {what} from {self.spaces.describe(value.ids)}; they must be "
                       "constants (initializers): export the model with its weights")
        return np.asarray(value, dtype=np.float64)

    # -- recurrent nodes -------------------------------------------------------------------------

    def _recurrent(self, node, inputs) -> list[Ids]:
        op, where, attrs = node.op_type, node_name(node), attributes(node)
        direction, layout = self._check_attributes(node, attrs)
        cell = {"LSTM": "lstm", "GRU": "gru"}.get(op) or self._rnn_cell(node, attrs)
        directions, gates = (2 if direction == "bidirectional" else 1), len(RECURRENT_OPS[op]["order"])
        inputs = inputs + [None] * (8 - len(inputs))
        x = inputs[0]
        if not isinstance(x, Ids) or x.ids.ndim != 3:
            self._fail(where, "input X must be the model's [T, N, I] (layout 0) or [N, T, I] (layout 1) data")
        x_tn = x.ids if layout == 0 else x.ids.transpose(1, 0, 2)
        steps, batch, features = x_tn.shape
        w = self._constant(node, inputs[1], "weights W")
        r = self._constant(node, inputs[2], "weights R")
        hidden = int(attrs.get("hidden_size", r.shape[-1]))
        rows = gates * hidden
        b = np.zeros((directions, 2 * rows)) if inputs[3] is None else self._constant(node, inputs[3], "bias B")
        for name, value, shape in (("W", w, (directions, rows, features)), ("R", r, (directions, rows, hidden)),
                                   ("B", b, (directions, 2 * rows))):
            if value.shape != shape:
                self._fail(where, f"input {name} has shape {list(value.shape)}, expected {list(shape)} for "
                           f"hidden_size {hidden} and {features} input features")
        self._check_layer_input(where, x_tn)
        self._check_states(node, inputs)
        lengths = self._sequence_lengths(node, inputs[4], steps)
        order = RECURRENT_OPS[op]["order"]
        weights = tuple(
            LayerWeights(gates_to_pytorch(w[d], order), gates_to_pytorch(r[d], order),
                         gates_to_pytorch(b[d, :rows], order), gates_to_pytorch(b[d, rows:], order))
            for d in range(directions))
        gru_reset = "after" if attrs.get("linear_before_reset", 0) else "before"
        layer = ImportedLayer(where, cell, weights, direction, gru_reset if op == "GRU" else "after")
        return self._layer_outputs(layer, op, layout, (directions, batch, steps, hidden), lengths)

    def _check_attributes(self, node, attrs) -> tuple[str, int]:
        where, op = node_name(node), node.op_type
        for key in ("activation_alpha", "activation_beta"):
            if key in attrs:
                self._fail(where, f"has attribute {key}; only the default activations without parameters are "
                           "supported")
        if "clip" in attrs:
            self._fail(where, f"has clip = {attrs['clip']:g}; rnnhw does not clip pre-activations: export "
                       "without clip")
        if attrs.get("input_forget", 0):
            self._fail(where, "has input_forget = 1 (coupled input and forget gates); rnnhw's LSTM has separate "
                       "gates: export with input_forget = 0")
        direction = attrs.get("direction", b"forward").decode()
        if direction not in DIRECTIONS:
            self._fail(where, f"has direction = {direction!r}; ONNX allows {', '.join(DIRECTIONS)}")
        layout = attrs.get("layout", 0)
        if layout not in (0, 1):
            self._fail(where, f"has layout = {layout}; ONNX allows 0 ([T, N, I]) and 1 ([N, T, I])")
        names = [a.decode().lower() for a in attrs.get("activations", [])]
        directions = 2 if direction == "bidirectional" else 1
        defaults = [list(RECURRENT_OPS[op]["activations"]) * directions]
        if op == "RNN":
            defaults.append(["relu"] * directions)
        if names and names not in defaults:
            allowed = " or ".join(str(d) for d in defaults)
            self._fail(where, f"has activations {names}; rnnhw supports {allowed} (case-insensitive)")
        return direction, layout

    def _rnn_cell(self, node, attrs) -> str:
        names = [a.decode().lower() for a in attrs.get("activations", [])]
        return "rnn_relu" if names and names[0] == "relu" else "rnn_tanh"

    def _check_layer_input(self, where: str, x_tn: np.ndarray):
        """The first layer reads the graph input; each other the whole output sequence of the one before."""
        sources = self.spaces.of(x_tn)
        if self.layers:
            before = self.layers[-1]
            if x_tn.shape == before.sequence.shape and np.array_equal(x_tn, before.sequence):
                return
            if np.array_equal(np.sort(x_tn, None), np.sort(before.sequence, None)):
                self._fail(where, f"reads the output sequence of the layer before ({before.layer.where}) rearranged "
                           "(timesteps, sequences or units in another order); rnnhw stacks layers that each read "
                           "the one before as it is")
            self._fail(where, f"reads {self.spaces.describe(x_tn)}, not the whole output sequence of the layer "
                       f"before ({before.layer.where}); rnnhw stacks layers that each read the one before")
        inputs = [s for s in sources if s in self.graph_inputs.values()]
        if len(sources) != 1 or not inputs or len(inputs[0].shape) != 3:
            self._fail(where, f"reads {self.spaces.describe(x_tn)}; the first recurrent layer must read a graph "
                       "input [N, T, I]")
        source = inputs[0]
        for order in (*_INPUT_ORDERS, (0, 2, 1), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
            candidate = source.ids.transpose(order)
            if candidate.shape == x_tn.shape and np.array_equal(candidate, x_tn):
                break
        else:
            self._fail(where, f"reads {source.name} with its elements rearranged; it must read it as [N, T, I] "
                       "or [T, N, I]")
        if order[2] != 2:
            self._fail(where, f"reads the features of {source.name} from axis {order[2]}; rnnhw's inputs are "
                       "[N, T, I] with the features last")
        if self.fixed[next(name for name, space in self.graph_inputs.items() if space is source)][order[0]]:
            self.steps = x_tn.shape[0]
        if order == (0, 1, 2):
            self.notes.append(f"{source.name} is time-major [T, N, I]; rnnhw's inputs are [N, T, I]: transpose "
                              "your inputs")

    def _check_states(self, node, inputs):
        where = node_name(node)
        for position, name in ((5, "initial_h"), (6, "initial_c")):
            value = inputs[position]
            if isinstance(value, Ids):
                self._fail(where, f"takes {name} from {self.spaces.describe(value.ids)}; rnnhw starts every "
                           "sequence from zero states: export without initial states")
            if value is not None and np.any(np.asarray(value) != 0):
                self._fail(where, f"has a non-zero {name}; rnnhw starts every sequence from zero states")
        peepholes = inputs[7]
        if isinstance(peepholes, Ids) or (peepholes is not None and np.any(np.asarray(peepholes) != 0)):
            self._fail(where, "has peephole weights P; rnnhw's LSTM has no peepholes: export without P")

    def _sequence_lengths(self, node, value, steps: int) -> bool:
        if value is None:
            return False
        if not isinstance(value, Ids) and np.all(np.asarray(value) == steps):
            return False  # every sequence runs all steps: lengths computed from the input's shape (tf2onnx)
        sources = self.spaces.of(value.ids) if isinstance(value, Ids) else []
        if len(sources) != 1 or sources[0] not in self.graph_inputs.values():
            self._fail(node_name(node), "has constant sequence_lens shorter than the input; rnnhw takes each "
                       "sequence's length at run time (--lengths L.npy): make the lengths a graph input or leave "
                       "them out")
        name = sources[0].name
        if self.lengths_input not in (None, name):
            self._fail(node_name(node), f"takes sequence_lens from {name}, other layers from {self.lengths_input}; "
                       "rnnhw gives all layers the same lengths")
        if self.lengths_input is None:
            self.notes.append(f"the sequence lengths come from {name}: give them to rnnhw with --lengths L.npy "
                              "(rnnhw's inputs are then zero-padded to the longest)")
        self.lengths_input = name
        return True

    def _layer_outputs(self, layer: ImportedLayer, op: str, layout: int, shape, lengths: bool) -> list[Ids]:
        directions, batch, steps, hidden = shape
        k = len(self.layers)
        states = self.spaces.new(f"the hidden states of layer {k} ({layer.where})", shape).ids  # [D, N, T, H]
        if lengths:
            final = self.spaces.new(f"the final states of layer {k} ({layer.where})", shape[:2] + (hidden,)).ids
        else:  # forward directions end at the last step, a reverse one at the first
            backward = [layer.direction == "reverse" or d == 1 for d in range(directions)]
            final = np.stack([states[d, :, 0 if backward[d] else steps - 1] for d in range(directions)])
        cell = self.spaces.new(f"the LSTM cell states of layer {k} ({layer.where})", final.shape).ids
        sequence = states.transpose(2, 1, 0, 3).reshape(steps, batch, directions * hidden)
        self.layers.append(_Layer(layer, sequence, final.transpose(1, 0, 2).reshape(batch, directions * hidden)))
        y = states.transpose(2, 0, 1, 3) if layout == 0 else states.transpose(1, 2, 0, 3)
        y_h, y_c = (final, cell) if layout == 0 else (final.transpose(1, 0, 2), cell.transpose(1, 0, 2))
        return [Ids(y), Ids(y_h), Ids(y_c)] if op == "LSTM" else [Ids(y), Ids(y_h)]

    # -- the head --------------------------------------------------------------------------------

    def _state_rows(self, where: str, data: Ids) -> np.ndarray:
        """Index of each row of ``data`` ``[..., K]`` among the last layer's state rows."""
        if self.head is not None:
            self._fail(where, f"reads {self.spaces.describe(data.ids)}; rnnhw has one linear head")
        if not self.layers:
            self._fail(where, f"reads {self.spaces.describe(data.ids)}; rnnhw supports a linear layer only as the "
                       "head after the recurrent layers")
        last = self.layers[-1]
        rows = data.ids.reshape(-1, data.shape[-1])
        index = [last.rows.get(row.tobytes()) for row in rows]
        if None in index:
            self._fail(where, f"reads {self.spaces.describe(data.ids)}, not whole hidden states of the last "
                       f"recurrent layer ({last.layer.where})")
        return np.array(index)

    def _new_head(self, node, data: Ids, weight: np.ndarray, bias: np.ndarray) -> Ids:
        where = node_name(node)
        rows = self._state_rows(where, data)
        classes = weight.shape[0]
        space = self.spaces.new(f"the head's outputs ({where})", (len(self.layers[-1].rows), classes))
        self.head = _Head(ImportedHead(where, weight, bias), space)
        return Ids(space.ids[rows].reshape(data.shape[:-1] + (classes,)))

    def _gemm(self, node, inputs) -> Ids:
        attrs, where = attributes(node), node_name(node)
        a = inputs[0]
        if not isinstance(a, Ids) or any(isinstance(v, Ids) for v in inputs[1:]):
            self._fail(where, "must multiply the model's data (input A) by constant weights (B, C)")
        if a.ids.ndim != 2:
            self._fail(where, f"input A has {a.ids.ndim} dimensions; Gemm takes 2")
        data = Ids(a.ids.T) if attrs.get("transA", 0) else a
        b = self._constant(node, inputs[1], "weights B")
        weight = attrs.get("alpha", 1.0) * (b if attrs.get("transB", 0) else b.T)  # [C, K]
        if weight.shape[1] != data.shape[-1]:
            self._fail(where, f"weights B have shape {list(b.shape)}, which does not fit input A {list(data.shape)}")
        bias = np.zeros(weight.shape[0])
        if len(inputs) > 2 and inputs[2] is not None:
            bias = self._row_constant(where, attrs.get("beta", 1.0) * self._constant(node, inputs[2], "bias C"),
                                      (data.shape[0], weight.shape[0]))
        return self._new_head(node, data, weight, bias)

    def _matmul(self, node, inputs) -> Ids:
        a, b = inputs
        where = node_name(node)
        if not isinstance(a, Ids) or isinstance(b, Ids):
            self._fail(where, "must multiply the model's data (first input) by constant weights (second input)")
        weight = self._constant(node, b, "weights")
        if weight.ndim != 2 or weight.shape[0] != a.shape[-1]:
            self._fail(where, f"weights have shape {list(weight.shape)}; a linear head needs [{a.shape[-1]}, C]")
        return self._new_head(node, a, weight.T, np.zeros(weight.shape[1]))

    def _add(self, node, inputs) -> Ids:
        where = node_name(node)
        data = [v for v in inputs if isinstance(v, Ids)]
        if len(data) != 1 or self.head is None or self.spaces.of(data[0].ids) != [self.head.space]:
            self._fail(where, f"adds to {', '.join(self.spaces.describe(v.ids) for v in data)}; rnnhw supports Add "
                       "only as the bias of the linear head (MatMul + Add)")
        constant = [v for v in inputs if not isinstance(v, Ids)][0]
        head, ids = self.head, data[0].ids
        classes = head.space.shape[1]
        if ids.shape[-1] != classes:
            self._fail(where, "adds to the head's outputs along another axis than the outputs'")
        rows = (ids.reshape(-1, classes)[:, 0] - head.space.start) // classes
        if not np.array_equal(head.space.ids[rows], ids.reshape(-1, classes)):
            self._fail(where, "adds to the head's outputs rearranged; rnnhw supports Add only as the head's bias")
        bias = self._row_constant(where, np.asarray(constant, dtype=np.float64), (len(rows), classes),
                                  ids.shape)
        where = f"{head.head.where} + {where}"
        space = self.spaces.new(f"the head's outputs ({where})", head.space.shape)
        self.head = _Head(ImportedHead(where, head.head.weight, head.head.bias + bias), space)
        return Ids(space.ids[rows].reshape(ids.shape))

    def _row_constant(self, where: str, value: np.ndarray, rows_shape, data_shape=None) -> np.ndarray:
        """A bias that is the same for every row: ``value`` broadcast to the data, as one row ``[C]``."""
        try:
            full = np.broadcast_to(value, data_shape or rows_shape).reshape(rows_shape)
        except ValueError:
            self._fail(where, f"has a bias of shape {list(value.shape)}, which does not fit the outputs")
        if not np.all(full == full[:1]):
            self._fail(where, "has a bias that differs between sequences or timesteps; a head's bias is one vector")
        return full[0].copy()

    # -- the graph output ------------------------------------------------------------------------

    def _check_output(self, name: str, value) -> bool:
        """``return_sequences`` of the model whose output ``name`` is, or a one-line refusal."""
        what = f'graph output "{name}"'
        if not isinstance(value, Ids):
            raise UserError(f"{self.source}: {what} does not depend on the graph input")
        ids = np.squeeze(value.ids)
        if not self.layers:
            raise UserError(f"{self.source}: {what} holds {self.spaces.describe(ids)}; no recurrent layer reads it")
        last = self.layers[-1]
        if self.head is None:
            final, sequence = last.final, last.sequence  # [N, K], [T, N, K]
        else:  # the head's outputs for the final states and for every step's state
            rows = np.array([[last.rows[row.tobytes()] for row in step] for step in last.sequence])
            final, sequence = self.head.space.ids[last.final_rows], self.head.space.ids[rows]
        for kind, expected in {"final": final, "sequence": sequence.transpose(1, 0, 2),
                               "time-major": sequence}.items():
            if np.array_equal(ids, np.squeeze(expected)):
                if kind == "time-major":
                    self.notes.append(f"{what} is time-major [T, N, {sequence.shape[-1]}]; rnnhw writes "
                                      f"[N, T, {sequence.shape[-1]}]")
                if kind != "final" and self.head is not None and self.lengths_input is not None:
                    self.notes.append("past each sequence's length rnnhw outputs 0, the original the head's bias "
                                      "(its output for a zero state)")
                return kind != "final"
        hint = ""
        if last.layer.direction == "bidirectional":
            hint = (" (a bidirectional layer's final state is [h_fwd at the last step ; h_bwd at the first], "
                    "torch.cat([h_n[-2], h_n[-1]], 1); y[:, -1] holds the backward direction after one step only)")
        raise UserError(f"{self.source}: {what} holds {self.spaces.describe(ids)}; rnnhw's model outputs the "
                        "head's output or the last layer's final hidden state for each sequence, or either at "
                        f"every step{hint}")
