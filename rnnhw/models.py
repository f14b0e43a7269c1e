"""PyTorch modules of the recurrent networks rnnhw builds that PyTorch itself does not have.

:class:`ResetBeforeGRU` is the GRU of Cho et al. 2014 (ONNX's ``linear_before_reset=0``, Keras's
``reset_after=False``), with ``nn.GRU``'s tensor names, shapes, gate order (r, z, n) and
initialisation, so that its ``state_dict`` is a weights file for ``gru_reset = "before"``.
:class:`JordanRNN` is the Jordan network (the context is the previous output ``y``, not ``h``) of
``cell = "jordan"``. :mod:`rnnhw.golden.float_ref` computes the same functions in NumPy; ``rnnhw train``
trains them.

Importing this module needs PyTorch (``pip install 'rnnhw[torch]'``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ResetBeforeGRU", "JordanRNN"]


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")


class ResetBeforeGRU(nn.Module):
    """A stacked GRU whose reset gate multiplies ``h`` before ``W_hn``, ``batch_first``.

    For each layer, with ``h_0 = 0``::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Layer k > 0 reads layer k-1's ``h``. Parameters ``weight_ih_l{k}`` ``[3H, I_k]``,
    ``weight_hh_l{k}`` ``[3H, H]``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``[3H]``, rows r, z, n, drawn
    from U(-1/sqrt(H), 1/sqrt(H)) like ``nn.GRU``'s.

    ``bidirectional=True`` adds, as ``nn.GRU(bidirectional=True)`` does, a backward direction per layer
    (parameters with ``_reverse`` appended) that runs from each sequence's last step to its first;
    each layer's output is then ``[h_fwd_t ; h_bwd_t]`` (2H), which layer k+1 reads (``I_k = 2H``).

    ``forward(x, lengths=None)`` takes ``[N, T, I]`` (and each sequence's length, default T) and returns
    ``(output [N, T, D*H], h_n [layers*D, N, H])`` like ``nn.GRU(batch_first=True)`` on a packed
    sequence: outputs past a sequence's length are 0, ``h_n`` holds each direction's final state
    (D = 2 directions when bidirectional, else 1).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, bidirectional: bool = False):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional = bool(bidirectional)
        directions = 2 if self.bidirectional else 1
        bound = 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            inputs = input_size if k == 0 else directions * hidden_size
            for suffix in ("", "_reverse")[:directions]:
                for name, shape in ((f"weight_ih_l{k}", (3 * hidden_size, inputs)),
                                    (f"weight_hh_l{k}", (3 * hidden_size, hidden_size)),
                                    (f"bias_ih_l{k}", (3 * hidden_size,)), (f"bias_hh_l{k}", (3 * hidden_size,))):
                    self.register_parameter(name + suffix,
                                            nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def _direction(self, name: str, x: torch.Tensor, active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One direction of a layer over ``x``: h at every step (0 where not ``active``) and the final h."""
        hidden = self.hidden_size
        w_ih, w_hh = getattr(self, f"weight_ih_{name}"), getattr(self, f"weight_hh_{name}")
        b_ih, b_hh = getattr(self, f"bias_ih_{name}"), getattr(self, f"bias_hh_{name}")
        x_pre = x @ w_ih.T + b_ih  # every timestep's input projection at once
        h = x.new_zeros(x.shape[0], hidden)
        outputs = []
        for t in range(x.shape[1]):
            rz = torch.sigmoid(x_pre[:, t, : 2 * hidden] + h @ w_hh[: 2 * hidden].T + b_hh[: 2 * hidden])
            r, z = rz[:, :hidden], rz[:, hidden:]
            n = torch.tanh(x_pre[:, t, 2 * hidden :] + (r * h) @ w_hh[2 * hidden :].T + b_hh[2 * hidden :])
            h = torch.where(active[:, t, None], (1 - z) * n + z * h, h)  # ended sequences keep their state
            outputs.append(torch.where(active[:, t, None], h, 0.0))
        return torch.stack(outputs, dim=1), h

    def forward(self, x: torch.Tensor, lengths=None) -> tuple[torch.Tensor, torch.Tensor]:
        batch, steps = x.shape[0], x.shape[1]
        lengths = torch.full((batch,), steps) if lengths is None else torch.as_tensor(lengths)
        t = torch.arange(steps)
        active = t[None, :] < lengths[:, None]
        # Steps reversed within each sequence's length (the padding stays in place): the backward
        # direction's order, and, being its own inverse, the way back to time order.
        order = torch.where(active, lengths[:, None] - 1 - t[None, :], t[None, :])
        finals = []
        for k in range(self.num_layers):
            sequence, h = self._direction(f"l{k}", x, active)
            finals.append(h)
            if self.bidirectional:
                index = order[..., None].expand(-1, -1, x.shape[2])
                backward, h_b = self._direction(f"l{k}_reverse", torch.gather(x, 1, index), active)
                index = order[..., None].expand(-1, -1, self.hidden_size)
                sequence = torch.cat([sequence, torch.gather(backward, 1, index)], dim=-1)
                finals.append(h_b)
            x = sequence
        return x, torch.stack(finals)


_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda a: a, "sigmoid": torch.sigmoid}


class JordanRNN(nn.Module):
    """A stacked Jordan network, ``batch_first``: each layer feeds its previous output back.

    For each layer, with ``y_0 = 0``::

        h_t = act(W_ih x_t + b_ih + W_yh y_{t-1} + b_yh)      act: nonlinearity, "tanh" or "relu"
        y_t = out_act(W_hy h_t + b_hy)                       out_act: "identity", "tanh" or "sigmoid"

    Layer k > 0 reads layer k-1's ``y``. Parameters ``weight_ih_l{k}`` ``[H, I_k]``, ``bias_ih_l{k}``
    ``[H]``, ``weight_yh_l{k}`` ``[H, O]``, ``bias_yh_l{k}`` ``[H]``, ``weight_hy_l{k}`` ``[O, H]``,
    ``bias_hy_l{k}`` ``[O]``, drawn from U(-1/sqrt(H), 1/sqrt(H)).

    ``forward(x)`` takes ``[N, T, I]`` and returns ``(y [N, T, O], (h_n [layers, N, H], y_n [layers, N, O]))``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1, *,
                 nonlinearity: str = "tanh", output_activation: str = "identity"):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, output_size=output_size, num_layers=num_layers)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        if output_activation not in ("identity", "tanh", "sigmoid"):
            raise ValueError(f"output_activation must be 'identity', 'tanh' or 'sigmoid', not {output_activation!r}")
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.num_layers, self.nonlinearity, self.output_activation = num_layers, nonlinearity, output_activation
        bound = 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            inputs = input_size if k == 0 else output_size
            for name, shape in ((f"weight_ih_l{k}", (hidden_size, inputs)), (f"bias_ih_l{k}", (hidden_size,)),
                                (f"weight_yh_l{k}", (hidden_size, output_size)), (f"bias_yh_l{k}", (hidden_size,)),
                                (f"weight_hy_l{k}", (output_size, hidden_size)), (f"bias_hy_l{k}", (output_size,))):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        act, out_act = _ACTIVATIONS[self.nonlinearity], _ACTIVATIONS[self.output_activation]
        finals_h, finals_y = [], []
        for k in range(self.num_layers):
            w_ih, b_ih = getattr(self, f"weight_ih_l{k}"), getattr(self, f"bias_ih_l{k}")
            w_yh, b_yh = getattr(self, f"weight_yh_l{k}"), getattr(self, f"bias_yh_l{k}")
            w_hy, b_hy = getattr(self, f"weight_hy_l{k}"), getattr(self, f"bias_hy_l{k}")
            x_pre = x @ w_ih.T + b_ih
            y = x.new_zeros(x.shape[0], self.output_size)
            outputs = []
            for t in range(x.shape[1]):
                h = act(x_pre[:, t] + y @ w_yh.T + b_yh)
                y = out_act(h @ w_hy.T + b_hy)
                outputs.append(y)
            x = torch.stack(outputs, dim=1)
            finals_h.append(h)
            finals_y.append(y)
        return x, (torch.stack(finals_h), torch.stack(finals_y))
