"""Slow scalar re-implementations of the numeric specification, in plain Python integers.

Written from ``docs/numerics.md`` (and the table lookup steps of ``spec/lut.py``'s docstring), not
from the vectorized code, so that the tests comparing the two check the code against the document.
Every value is an integer that means ``value * 2**-frac`` for the ``frac`` named next to it.
"""

from __future__ import annotations

from rnnhw.spec.config import Config
from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding
from rnnhw.spec.lut import INTERP_BITS, ActivationTable, activation_table
from rnnhw.spec.weights import QuantizedWeights


# -- rounding and overflow -------------------------------------------------------------------------
def round_shift(v: int, shift: int, rounding: Rounding) -> int:
    """``v / 2**shift`` rounded to an integer (``shift <= 0``: exact)."""
    if shift <= 0:
        return v << -shift
    quotient, rest = divmod(v, 1 << shift)  # floor division: rest in [0, 2**shift)
    half = 1 << (shift - 1)
    if rounding is Rounding.TRN:
        return quotient
    if rounding is Rounding.RND:
        return quotient + (rest >= half)
    return quotient + (rest > half or (rest == half and quotient % 2 == 1))


def fit(v: int, fmt: FixedFormat, overflow: Overflow) -> int:
    if overflow is Overflow.SAT:
        return min(max(v, fmt.min_int), fmt.max_int)
    return (v - fmt.min_int) % (1 << fmt.width) + fmt.min_int


def to_format(v: int, frac: int, fmt: FixedFormat, rounding: Rounding, overflow: Overflow) -> int:
    """The one rounding point: ``v`` (``frac`` fractional bits) rounded, then fitted, to ``fmt``."""
    return fit(round_shift(v, frac - fmt.frac_bits, rounding), fmt, overflow)


# -- activation tables -----------------------------------------------------------------------------
def scalar_lookup(table: ActivationTable, v: int, frac_in: int) -> int:
    """The table's result for ``v`` (``frac_in`` fractional bits), step by step."""
    half = table.size // 2
    step_log2 = table.range_log2 + 1 - (table.size.bit_length() - 1)  # bin width 2R / size
    s = frac_in + step_log2  # input bits below one bin
    a = abs(v)
    k = a >> s if s >= 0 else a << -s
    t = table.entries
    if not table.interpolate:
        y = t[min(k, half - 1)]
    elif k >= half:
        y = t[half]
    else:
        position = a & ((1 << s) - 1) if s > 0 else 0  # the bits of a below the bin index
        u = position >> (s - INTERP_BITS) if s >= INTERP_BITS else position << (INTERP_BITS - s)
        y = t[k] + round_shift((t[k + 1] - t[k]) * u, INTERP_BITS, Rounding.RND)
    if v < 0:
        y = (1 << table.out_fmt.frac_bits) - y if table.function == "sigmoid" else -y
    return fit(y, table.out_fmt, Overflow.SAT)


# -- the network -----------------------------------------------------------------------------------
def reference_run(config: Config, qw: QuantizedWeights, x: list, lengths: list) -> tuple[list, list]:
    """Outputs (nested lists like ``GoldenResult.outputs``) and the final ``h`` of every layer.

    ``x[n][t][i]`` are input-format integers; sequence ``n`` has ``lengths[n]`` steps.
    """
    model, num = config.model, config.numerics
    hidden = model.hidden_size
    rnd, ovf = num.rounding, num.overflow
    acc_frac, act_frac = num.accum.frac_bits, num.activation.frac_bits
    sigmoid = activation_table("sigmoid", num.lut_size, num.lut_interpolate, num.activation)
    tanh = activation_table("tanh", num.lut_size, num.lut_interpolate, num.activation)

    def sig(v, frac):
        return scalar_lookup(sigmoid, v, frac)

    def th(v, frac):
        return scalar_lookup(tanh, v, frac)

    def dot(segments, bias_int, fmt):
        """sum(w * v for each segment) + bias, exact, rounded once to fmt.

        ``segments`` lists (weights row, values, values' frac bits); weights are in the weight format.
        """
        frac = max([num.weight.frac_bits + f for _, _, f in segments] + [num.bias.frac_bits])
        total = bias_int << (frac - num.bias.frac_bits)
        for row, values, f in segments:
            shift = frac - num.weight.frac_bits - f
            total += sum(int(w) * int(v) for w, v in zip(row, values, strict=True)) << shift
        return to_format(total, frac, fmt, rnd, ovf)

    layer_input = [[list(map(int, step)) for step in seq] for seq in x]
    in_frac = num.input.frac_bits
    if model.cell == "jordan":
        return _jordan(config, qw, layer_input, lengths, dot, sig, th)
    def direction(layer, seq, length, in_frac, backward):
        """One direction of a layer over one sequence: h at each step (0 past ``length``) and the final h.

        The backward direction visits steps ``length - 1`` down to 0 and ends at step 0."""
        h, c = [0] * hidden, [0] * hidden
        outs = [[0] * hidden for _ in seq]  # the sequence has ended: output 0
        for t in (reversed(range(length)) if backward else range(length)):
            xt = seq[t]

            def row(r, xt=xt, h=h):
                return dot([(layer.w_ih[r], xt, in_frac), (layer.w_hh[r], h, num.state.frac_bits)],
                           int(layer.bias[r]), num.accum)

            if model.cell == "lstm":
                h, c = _lstm(row, hidden, c, sig, th, num, acc_frac, act_frac)
            elif model.cell == "gru" and model.gru_reset == "before":
                h = _gru_before(layer, xt, h, hidden, dot, sig, th, num, in_frac, acc_frac, act_frac)
            elif model.cell == "gru":
                h = _gru(layer, xt, h, hidden, dot, sig, th, num, in_frac, acc_frac, act_frac)
            elif model.cell == "rnn_tanh":
                h = [to_format(th(row(j), acc_frac), act_frac, num.state, rnd, ovf) for j in range(hidden)]
            else:
                h = [to_format(max(row(j), 0), acc_frac, num.state, rnd, ovf) for j in range(hidden)]
            outs[t] = h
        return outs, h

    # Bidirectional: each layer's output at step t is [h_fwd_t ; h_bwd_t], its final state
    # [h_fwd at the last step ; h_bwd at step 0].
    directions = [qw.layers] + ([qw.reverse_layers] if model.bidirectional else [])
    finals = []
    for k in range(model.num_layers):
        sequences, final = [], []
        for n, seq in enumerate(layer_input):
            runs = [direction(layers[k], seq, lengths[n], in_frac, d == 1) for d, layers in enumerate(directions)]
            sequences.append([sum((outs[t] for outs, _ in runs), []) for t in range(len(seq))])
            final.append(sum((h for _, h in runs), []))
        finals.append(final)
        layer_input, in_frac = sequences, num.state.frac_bits
    def head(h):
        return [dot([(qw.head_weight[r], h, num.state.frac_bits)], int(qw.head_bias[r]), num.output)
                for r in range(model.head)]

    if model.head and model.return_sequences:  # the head at every step; zeros past a sequence's length
        outputs = [[head(h) if t < lengths[n] else [0] * model.head for t, h in enumerate(seq)]
                   for n, seq in enumerate(layer_input)]
    elif model.head:
        outputs = [head(h) for h in finals[-1]]
    elif model.return_sequences:
        outputs = layer_input
    else:
        outputs = finals[-1]
    return outputs, finals


def _lstm(row, hidden, c, sig, th, num, acc_frac, act_frac):
    """Gate rows i, f, g, o (PyTorch's order); c_t = round(f*c + i*g), h_t = round(o * tanh(c_t))."""
    rnd, ovf = num.rounding, num.overflow
    cell_frac = num.cell_state.frac_bits
    h_new, c_new = [], []
    for j in range(hidden):
        i = sig(row(j), acc_frac)
        f = sig(row(hidden + j), acc_frac)
        g = th(row(2 * hidden + j), acc_frac)
        o = sig(row(3 * hidden + j), acc_frac)
        # f*c has act_frac + cell_frac fractional bits, i*g 2*act_frac: add at the finer of the two.
        frac = max(act_frac + cell_frac, 2 * act_frac)
        total = (f * c[j] << (frac - act_frac - cell_frac)) + (i * g << (frac - 2 * act_frac))
        cj = to_format(total, frac, num.cell_state, rnd, ovf)
        c_new.append(cj)
        h_new.append(to_format(o * th(cj, cell_frac), 2 * act_frac, num.state, rnd, ovf))
    return h_new, c_new


def _gru(layer, xt, h, hidden, dot, sig, th, num, in_frac, acc_frac, act_frac):
    """Gate rows r, z, n; a_n = round(xn + r*hn), n = tanh(a_n), h_t = round((1 - z)*n + z*h)."""
    rnd, ovf = num.rounding, num.overflow
    state_frac = num.state.frac_bits
    h_new = []
    for j in range(hidden):
        r_pre = dot([(layer.w_ih[j], xt, in_frac), (layer.w_hh[j], h, state_frac)],
                    int(layer.bias[j]), num.accum)
        z_pre = dot([(layer.w_ih[hidden + j], xt, in_frac), (layer.w_hh[hidden + j], h, state_frac)],
                    int(layer.bias[hidden + j]), num.accum)
        xn = dot([(layer.w_ih[2 * hidden + j], xt, in_frac)], int(layer.bias[2 * hidden + j]), num.accum)
        hn = dot([(layer.w_hh[2 * hidden + j], h, state_frac)], int(layer.bias_hn[j]), num.accum)
        r, z = sig(r_pre, acc_frac), sig(z_pre, acc_frac)
        # xn + r*hn: xn has acc_frac fractional bits, r*hn act_frac + acc_frac.
        a_n = to_format((xn << act_frac) + r * hn, acc_frac + act_frac, num.accum, rnd, ovf)
        n = th(a_n, acc_frac)
        # (1 - z)*n + z*h = n + z*h - z*n, exactly, at the finest fractional bits of its terms.
        frac = act_frac + max(act_frac, state_frac)
        total = ((n << (frac - act_frac)) + (z * h[j] << (frac - act_frac - state_frac))
                 - (z * n << (frac - 2 * act_frac)))
        h_new.append(to_format(total, frac, num.state, rnd, ovf))
    return h_new


def _gru_before(layer, xt, h, hidden, dot, sig, th, num, in_frac, acc_frac, act_frac):
    """Reset before W_hn: rh = round(r*h) to state; a_n = round(W_in x + W_hn rh + b_in + b_hn);
    n = tanh(a_n), h_t = round((1 - z)*n + z*h)."""
    rnd, ovf = num.rounding, num.overflow
    state_frac = num.state.frac_bits

    def pre(row, operand):
        return dot([(layer.w_ih[row], xt, in_frac), (layer.w_hh[row], operand, state_frac)],
                   int(layer.bias[row]), num.accum)

    r = [sig(pre(j, h), acc_frac) for j in range(hidden)]
    z = [sig(pre(hidden + j, h), acc_frac) for j in range(hidden)]
    rh = [to_format(r[j] * h[j], act_frac + state_frac, num.state, rnd, ovf) for j in range(hidden)]
    h_new = []
    for j in range(hidden):
        n = th(pre(2 * hidden + j, rh), acc_frac)
        frac = act_frac + max(act_frac, state_frac)
        total = ((n << (frac - act_frac)) + (z[j] * h[j] << (frac - act_frac - state_frac))
                 - (z[j] * n << (frac - 2 * act_frac)))
        h_new.append(to_format(total, frac, num.state, rnd, ovf))
    return h_new


def _jordan(config, qw, layer_input, lengths, dot, sig, th):
    """Jordan layers: h = act(round(W_ih x + W_yh y + b)) to state, a_y = round(W_hy h + b_hy) to accum,
    y = out_act(a_y) rounded to state; outputs y per step (0 past the length) or the final y."""
    model, num = config.model, config.numerics
    rnd, ovf = num.rounding, num.overflow
    acc_frac, act_frac, state_frac = num.accum.frac_bits, num.activation.frac_bits, num.state.frac_bits
    in_frac, finals, final_y = num.input.frac_bits, [], []

    def act(a):
        if model.nonlinearity == "relu":
            return to_format(max(a, 0), acc_frac, num.state, rnd, ovf)
        return to_format(th(a, acc_frac), act_frac, num.state, rnd, ovf)

    def out_act(a):
        if model.output_activation == "identity":
            return to_format(a, acc_frac, num.state, rnd, ovf)
        table = th if model.output_activation == "tanh" else sig
        return to_format(table(a, acc_frac), act_frac, num.state, rnd, ovf)

    for layer in qw.layers:
        sequences, final_h, final_y = [], [], []
        for n, seq in enumerate(layer_input):
            h, y, outs = [0] * model.hidden_size, [0] * model.output_size, []
            for t, xt in enumerate(seq):
                if t >= lengths[n]:
                    outs.append([0] * model.output_size)
                    continue
                h = [act(dot([(layer.w_ih[u], xt, in_frac), (layer.w_hh[u], y, state_frac)], int(layer.bias[u]),
                             num.accum)) for u in range(model.hidden_size)]
                y = [out_act(dot([(layer.w_hy[o], h, state_frac)], int(layer.bias_hy[o]), num.accum))
                     for o in range(model.output_size)]
                outs.append(y)
            sequences.append(outs)
            final_h.append(h)
            final_y.append(y)
        finals.append(final_h)
        layer_input, in_frac = sequences, state_frac
    return (layer_input if model.return_sequences else final_y), finals
