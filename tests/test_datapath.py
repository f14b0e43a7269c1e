"""Derived widths and fractional bits of the datapath (spec/datapath.py), computed by hand."""

import pytest

from rnnhw.spec.config import Config, config_from_dict
from rnnhw.spec.datapath import FLOAT64_EXACT_BITS, INT64_SAFE_BITS, MatVecShape, datapath, signed_bits
from rnnhw.spec.errors import UserError
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.lut import activation_table

# Explicit formats (the defaults of the time), so that these hand computations do not follow default changes.
FORMATS = {"input": "fixed<16,6>", "weight": "fixed<16,6>", "bias": "fixed<16,6>", "state": "fixed<16,6>",
           "cell_state": "fixed<16,6>", "accum": "fixed<40,16>", "activation": "fixed<16,2>"}


def _config(model=None, **numerics):
    numerics = {**FORMATS, **numerics}
    return config_from_dict({"model": model or {}, "numerics": numerics, "hardware": {"lanes": 1}})


def test_signed_bits():
    assert [signed_bits(m) for m in (0, 1, 2, 3, 4, 127, 128, 129)] == [1, 2, 3, 3, 4, 8, 9, 9]


def test_default_gates_matvec():
    # input, weight, bias, state all fixed<16,6> (10 fractional bits); I = 12, H = 32.
    shape = datapath(_config()).gates_matvec(0)
    assert shape.operands == ((12, FixedFormat(16, 6)), (32, FixedFormat(16, 6)))
    assert shape.frac_bits == 20  # weight 10 + operand 10
    assert (shape.product_shift(0), shape.product_shift(1), shape.bias_shift) == (0, 0, 10)
    # |bias| 2**15 << 10, plus 44 products of at most 2**15 * 2**15.
    assert shape.bound == (1 << 25) + 44 * (1 << 30) == 47_278_194_688
    assert shape.bits == 37


def test_mixed_formats_align_products_and_bias():
    config = _config(
        {"input_size": 3, "hidden_size": 2, "num_layers": 2, "head": 3},
        input="fixed<8,4>",  # 4 fractional bits
        weight="fixed<10,2>",  # 8
        state="fixed<12,4>",  # 8
        bias="fixed<16,4>",  # 12
    )
    dp = datapath(config)
    first = dp.gates_matvec(0)
    assert first.frac_bits == 16  # weight * state: 8 + 8
    assert (first.product_shift(0), first.product_shift(1), first.bias_shift) == (4, 0, 4)
    # bias 2**15 << 4; 3 input products 2**9 * 2**7 << 4; 2 state products 2**9 * 2**11.
    assert first.bound == (1 << 19) + 3 * (1 << 20) + 2 * (1 << 20) == 5_767_168
    assert first.bits == 24

    second = dp.gates_matvec(1)  # its input is layer 0's state
    assert second.operands == ((2, FixedFormat(12, 4)), (2, FixedFormat(12, 4)))
    assert (second.frac_bits, second.product_shift(0), second.bias_shift) == (16, 0, 4)
    assert second.bound == (1 << 19) + 4 * (1 << 20)
    assert second.bits == 24

    head = dp.head_matvec
    assert head.operands == ((2, FixedFormat(12, 4)),)
    assert (head.frac_bits, head.bound, head.bits) == (16, (1 << 19) + (1 << 21), 23)


def test_bias_finer_than_products():
    shape = MatVecShape(((4, FixedFormat(8, 4)),), FixedFormat(8, 4), FixedFormat(24, 2))
    assert shape.frac_bits == 22
    assert (shape.product_shift(0), shape.bias_shift) == (14, 0)
    assert shape.bound == (1 << 23) + 4 * ((1 << 14) << 14)
    assert shape.bits == 32


def test_elementwise_fractional_bits():
    dp = datapath(_config())  # activation fixed<16,2>: 14 fractional bits; cell_state/state: 10
    assert dp.lstm_cell_frac == 28  # max(14 + 10, 14 + 14)
    assert dp.gru_state_frac == 14  # max(10, 14)
    dp = datapath(_config(activation="fixed<8,2>", cell_state="fixed<24,4>", state="fixed<20,2>"))
    assert dp.lstm_cell_frac == 26  # max(6 + 20, 6 + 6)
    assert dp.gru_state_frac == 18  # max(18, 6)


def test_default_intermediate_widths():
    widths = datapath(_config()).intermediate_bits()  # an LSTM
    assert widths["layer 0 accumulator"] == 37
    assert widths["LSTM f*c + i*g"] == 36  # 2**30 << 4 plus 2**30
    assert "head accumulator" not in widths
    assert not any(name.startswith("GRU") for name in widths)
    head = datapath(_config({"head": 2})).intermediate_bits()
    assert head["head accumulator"] == 37  # 2**25 plus 32 products of 2**30
    gru = datapath(_config({"cell": "gru"})).intermediate_bits()
    assert gru["GRU xn + r*hn"] == 56  # accum 2**39 << 14 plus 2**15 * 2**39
    assert gru["GRU n + z*(h - n)"] == 36  # 2**15 << 14 plus 2**15 * (2**19 + 2**15)
    assert "LSTM f*c + i*g" not in gru
    before = datapath(_config({"cell": "gru", "gru_reset": "before"}))
    assert before.gru_reset_frac == 14 + 10  # activation fixed<16,2> times state fixed<16,6>
    widths = before.intermediate_bits()
    assert widths["GRU r*h"] == 32  # 2**15 * 2**15, plus the sign
    assert widths["GRU n + z*(h - n)"] == 36 and "GRU xn + r*hn" not in widths
    jordan = datapath(_config({"cell": "jordan", "output_size": 5, "hidden_size": 32}))
    assert jordan.has_output_matvec and jordan.gates_matvec(0).operands[1][0] == 5  # the recurrent operand is y
    # W_hy h + b_hy: 32 products of 2**30 plus 2**25 << 10, as the head's: 37 bits.
    assert jordan.intermediate_bits()["output accumulator"] == 37


def test_tables_follow_numerics():
    dp = datapath(_config(lut_size=256, lut_interpolate=True, activation="fixed<12,2>"))
    assert dp.sigmoid is activation_table("sigmoid", 256, True, FixedFormat(12, 2))
    assert dp.tanh is activation_table("tanh", 256, True, FixedFormat(12, 2))


def test_datapath_is_cached():
    assert datapath(Config()) is datapath(Config())


def test_constants():
    assert (INT64_SAFE_BITS, FLOAT64_EXACT_BITS) == (62, 53)


def test_check_refuses_wide_accumulator():
    config = _config(weight="fixed<40,8>", state="fixed<40,8>")
    with pytest.raises(UserError) as info:
        datapath(config)
    # 64 fractional bits: 32 state products of 2**78, 12 input products of 2**54 << 22, bias 2**15 << 54.
    assert str(info.value) == (
        "the layer 0 accumulator needs 85 bits, more than the 62 the golden model holds exactly; "
        "use narrower numerics formats (weight, input, state or accum)"
    )


def test_check_refuses_wide_gru_product():
    # accum 2**47 << 22 plus activation 2**23 times accum 2**47: 2**69 + 2**70.
    config = _config({"cell": "gru"}, accum="fixed<48,8>", activation="fixed<24,2>")
    datapath(_config(accum="fixed<48,8>", activation="fixed<24,2>"))  # an LSTM has no such product
    with pytest.raises(UserError, match=r"^the GRU xn \+ r\*hn needs 72 bits, more than the 62"):
        datapath(config)


def test_check_accepts_a_61_bit_accumulator():
    # 40 fractional bits: two products of 2**29 * 2**29 and the bias 2**29 << 20.
    wide = "fixed<30,10>"
    config = _config({"input_size": 1, "hidden_size": 1}, input=wide, weight=wide, state=wide, bias=wide,
                     cell_state=wide, accum="fixed<40,16>")
    shape = datapath(config).gates_matvec(0)
    assert shape.bound == (1 << 58) + (1 << 58) + (1 << 49)
    assert shape.bits == 61
