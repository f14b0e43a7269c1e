"""Following data through an ONNX graph: which element of which tensor each value is.

Instead of matching the node sequences exporters happen to write, the importer runs the graph on
*element identities*: every element of the graph input, of each recurrent layer's states and of the
head's outputs gets a unique integer id (:class:`Ids`), and the reshaping glue (``Transpose``,
``Squeeze``, ``Slice``, ``Gather``, ``Concat``, ``Reshape``, ...) moves ids exactly as it would move
values. Everything that does not depend on the input (shapes, initializers, ``Constant``,
``ConstantOfShape``, arithmetic on shapes) is computed in NumPy on concrete sizes. Which ids arrive at
a recurrent node or at the graph output then says exactly what it reads, however it was rearranged.

:class:`Spaces` hands out ids and names where any id came from; :func:`run_glue` runs one glue or
constant node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnhw.spec.errors import UserError

__all__ = ["Ids", "Space", "Spaces", "GLUE_OPS", "CONSTANT_OPS", "run_glue", "node_name", "attributes"]


@dataclass(frozen=True)
class Ids:
    """A tensor that depends on the input: each element is the id of the value it carries."""

    ids: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ids.shape


@dataclass(frozen=True)
class Space:
    """A block of ids ``[start, start + size)``: the elements of one tensor of shape ``shape``."""

    name: str
    start: int
    shape: tuple[int, ...]

    @property
    def ids(self) -> np.ndarray:
        return np.arange(self.start, self.start + int(np.prod(self.shape)), dtype=np.int64).reshape(self.shape)


class Spaces:
    """Allocates id blocks and finds the block of any id."""

    def __init__(self):
        self._spaces: list[Space] = []
        self._next = 1

    def new(self, name: str, shape) -> Space:
        space = Space(name, self._next, tuple(int(s) for s in shape))
        self._next += int(np.prod(space.shape))
        self._spaces.append(space)
        return space

    def of(self, ids: np.ndarray) -> list[Space]:
        """The spaces that the ids come from, in allocation order."""
        starts = np.array([s.start for s in self._spaces])
        found = np.unique(np.searchsorted(starts, np.unique(ids), side="right") - 1)
        return [self._spaces[i] for i in found]

    def describe(self, ids: np.ndarray) -> str:
        return ", ".join(s.name for s in self.of(ids)) or "nothing"


def node_name(node) -> str:
    return f'{node.op_type} node "{node.name or next((o for o in node.output if o), "")}"'


def attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _constant(node, attrs):
    from onnx import numpy_helper

    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    raise UserError(f"{node_name(node)}: only dense constants (value, value_float(s), value_int(s)) are supported")


def _axes(inputs, attrs, position: int, default=None):
    """``axes`` from the attribute (older opsets) or the input at ``position``."""
    if len(inputs) > position and inputs[position] is not None:
        return [int(a) for a in np.asarray(inputs[position]).reshape(-1)]
    return list(attrs.get("axes", default if default is not None else []))


def _squeeze(inputs, attrs):
    data = inputs[0]
    axes = _axes(inputs, attrs, 1)
    if not axes:
        axes = [i for i, s in enumerate(data.shape) if s == 1]
    return np.squeeze(data, axis=tuple(a % data.ndim for a in axes))


def _unsqueeze(inputs, attrs):
    data = inputs[0]
    axes = _axes(inputs, attrs, 1)
    rank = data.ndim + len(axes)
    out = data
    for axis in sorted(a % rank for a in axes):
        out = np.expand_dims(out, axis)
    return out


def _reshape(inputs, attrs):
    data, shape = inputs[0], [int(s) for s in np.asarray(inputs[1]).reshape(-1)]
    if not attrs.get("allowzero", 0):
        shape = [data.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return data.reshape(shape)


def _flatten(inputs, attrs):
    data = inputs[0]
    axis = attrs.get("axis", 1) % (data.ndim + 1) if data.ndim else 0
    return data.reshape(int(np.prod(data.shape[:axis])), -1)


def _slice(inputs, attrs):
    data = inputs[0]
    if len(inputs) > 1:  # opset 10 and later: starts, ends, axes, steps are inputs
        starts, ends = (np.asarray(v).reshape(-1) for v in inputs[1:3])
        axes = _axes(inputs, {}, 3, list(range(len(starts))))
        steps = np.asarray(inputs[4]).reshape(-1) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    else:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[int(axis) % data.ndim] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


def _split(inputs, attrs, outputs: int):
    data, axis = inputs[0], attrs.get("axis", 0)
    sizes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("split")
    if sizes is None:
        return np.array_split(data, outputs, axis=axis)
    return np.split(data, np.cumsum([int(s) for s in np.asarray(sizes).reshape(-1)])[:-1], axis=axis)


def _shape(inputs, attrs):
    shape = np.array(inputs[0].shape, dtype=np.int64)
    return shape[attrs.get("start", 0): attrs.get("end", len(shape))]


def _range(inputs, attrs):
    start, limit, delta = (np.asarray(v).reshape(()) for v in inputs)
    return np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta))


def _div(inputs, attrs):
    a, b = inputs
    if np.issubdtype(np.result_type(a, b), np.integer):
        return (np.trunc(a / b)).astype(np.result_type(a, b))
    return a / b


def _cast(inputs, attrs):
    import onnx

    return inputs[0].astype(onnx.helper.tensor_dtype_to_np_dtype(attrs["to"]))


def _constant_of_shape(inputs, attrs):
    from onnx import numpy_helper

    value = numpy_helper.to_array(attrs["value"]).reshape(-1) if "value" in attrs else np.zeros(1, np.float32)
    return np.full([int(s) for s in np.asarray(inputs[0]).reshape(-1)], value[0], dtype=value.dtype)


#: Operators that only move elements: they run on ids as well as on constants. The value is the
#: function and the positions of the inputs that carry data (the others must be constants).
GLUE_OPS = {
    "Identity": (lambda i, a: i[0], (0,)),
    "Dropout": (lambda i, a: i[0], (0,)),  # inference: the identity
    "Transpose": (lambda i, a: np.transpose(i[0], a.get("perm")), (0,)),
    "Squeeze": (_squeeze, (0,)),
    "Unsqueeze": (_unsqueeze, (0,)),
    "Reshape": (_reshape, (0,)),
    "Flatten": (_flatten, (0,)),
    "Slice": (_slice, (0,)),
    "Gather": (lambda i, a: np.take(i[0], np.asarray(i[1]).astype(np.int64), axis=a.get("axis", 0)), (0,)),
    "Concat": (lambda i, a: np.concatenate(i, axis=a["axis"]), "all"),
    "Split": (_split, (0,)),
    "Expand": (lambda i, a: i[0] * np.ones([int(s) for s in np.asarray(i[1]).reshape(-1)], dtype=i[0].dtype),
               (0,)),
}

#: Operators computed only on constants (shapes and initializers).
CONSTANT_OPS = {
    "Constant": None,
    "Shape": _shape,
    "Size": lambda i, a: np.array(i[0].size, dtype=np.int64),
    "ConstantOfShape": _constant_of_shape,
    "Cast": _cast,
    "Add": lambda i, a: i[0] + i[1],
    "Sub": lambda i, a: i[0] - i[1],
    "Mul": lambda i, a: i[0] * i[1],
    "Div": _div,
    "Neg": lambda i, a: -i[0],
    "Equal": lambda i, a: np.equal(i[0], i[1]),
    "Less": lambda i, a: np.less(i[0], i[1]),
    "Greater": lambda i, a: np.greater(i[0], i[1]),
    "Where": lambda i, a: np.where(i[0], i[1], i[2]),
    "Min": lambda i, a: np.minimum.reduce(i),
    "Max": lambda i, a: np.maximum.reduce(i),
    "Range": _range,
    "MatMul": lambda i, a: np.matmul(i[0], i[1]),
}

#: Glue that may read an input-dependent tensor's shape without carrying its data.
SHAPE_READERS = ("Shape", "Size")



def run_glue(node, inputs: list) -> list:
    """Outputs of a glue or constant node; ``inputs`` holds arrays, :class:`Ids` or ``None`` (absent)."""
    op, attrs = node.op_type, attributes(node)
    if op == "Constant":
        return [_constant(node, attrs)]
    carries_ids = [isinstance(v, Ids) for v in inputs]
    if op in SHAPE_READERS:
        return [CONSTANT_OPS[op]([_plain(inputs[0])], attrs)]
    if op == "Cast" and carries_ids[0]:  # floats between formats; integer lengths (sequence_lens) too
        import onnx

        target = onnx.TensorProto.DataType.Name(attrs["to"]).lower()
        if target in ("string", "bool"):
            raise UserError(f"{node_name(node)} casts the model's data to {target}; only numeric casts are supported")
        return [inputs[0]]
    if not any(carries_ids):
        if op in GLUE_OPS:
            return _as_list(_call_glue(node, op, inputs, attrs))
        return [CONSTANT_OPS[op](inputs, attrs)]
    if op not in GLUE_OPS:
        raise UserError(f"{node_name(node)} computes on the model's data; rnnhw imports recurrent layers and a "
                        "linear head, with only reshaping in between")
    data_positions = GLUE_OPS[op][1]
    positions = range(len(inputs)) if data_positions == "all" else data_positions
    for position, has_ids in enumerate(carries_ids):
        if has_ids and position not in positions:
            raise UserError(f"{node_name(node)}: input {position} depends on the model's data; it must be a constant")
    if data_positions == "all" and not all(carries_ids):
        raise UserError(f"{node_name(node)} joins the model's data with constants; rnnhw cannot import that")
    arrays = [v.ids if isinstance(v, Ids) else v for v in inputs]
    return [Ids(out) for out in _as_list(_call_glue(node, op, arrays, attrs))]


def _call_glue(node, op, arrays, attrs):
    if op == "Split":
        return _split(arrays, attrs, len(node.output))
    return GLUE_OPS[op][0](arrays, attrs)


def _as_list(result) -> list:
    return list(result) if isinstance(result, list) else [result]


def _plain(value):
    return value.ids if isinstance(value, Ids) else value
