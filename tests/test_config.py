"""The configuration contract: defaults, validation of every key, files, TOML round trip, replace()."""

import re
import tomllib

import pytest

from rnnhw.spec.config import (
    CELLS,
    GATES,
    SCHEMA,
    Config,
    HardwareConfig,
    ModelConfig,
    NumericsConfig,
    config_from_dict,
    default_lanes_note,
    load_config,
)
from rnnhw.spec.errors import UserError
from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding


def config_error(data, message):
    with pytest.raises(UserError) as info:
        config_from_dict(data)
    assert str(info.value) == message


# --------------------------------------------------------------------------------------------- defaults


def test_defaults():
    config = Config()
    assert config == config_from_dict({}) == config_from_dict({"model": {}, "numerics": {}, "hardware": {}})
    assert config.model == ModelConfig("lstm", 12, 32, 1, 0, False)
    assert config.numerics == NumericsConfig(
        input=FixedFormat(16, 6),
        weight=FixedFormat(16, 6),
        bias=FixedFormat(16, 6),
        state=FixedFormat(16, 6),
        cell_state=FixedFormat(16, 6),
        accum=FixedFormat(41, 17),
        activation=FixedFormat(16, 2),
        output=FixedFormat(16, 6),
        rounding=Rounding.RND,
        overflow=Overflow.SAT,
        lut_size=1024,
        lut_interpolate=False,
    )
    assert config.hardware == HardwareConfig(lanes=8)


def test_gates_and_derived_sizes():
    assert GATES == {
        "lstm": ("i", "f", "g", "o"),
        "gru": ("r", "z", "n"),
        "rnn_tanh": ("h",),
        "rnn_relu": ("h",),
        "jordan": ("h",),
    }
    assert CELLS == ("lstm", "gru", "rnn_tanh", "rnn_relu", "jordan")
    model = config_from_dict(
        {"model": {"cell": "gru", "input_size": 5, "hidden_size": 7, "num_layers": 3}}
    ).model
    sizes = (model.gates, model.layer_input_size(0), model.layer_input_size(2), model.output_vector)
    assert sizes == (3, 5, 7, 7)
    assert config_from_dict({"model": {"head": 4}}).model.output_vector == 4


def test_every_key_accepts_a_valid_value():
    config = config_from_dict(
        {
            "model": {
                "cell": "rnn_relu",
                "input_size": 1,
                "hidden_size": 4096,
                "num_layers": 16,
                "head": 4096,
                "return_sequences": False,
            },
            "numerics": {
                "input": "fixed<8,3>",
                "weight": "fixed< 12 , 0 >",
                "bias": "fixed<48,48>",
                "state": "fixed<2,1>",
                "cell_state": "fixed<20,-4>",
                "accum": "fixed<32,10>",
                "activation": "fixed<10,1>",
                "output": "fixed<24,8>",
                "rounding": "RND_CONV",
                "overflow": "WRAP",
                "lut_size": 65536,
                "lut_interpolate": True,
            },
            "hardware": {"lanes": 4096},
        }
    )
    assert config.model == ModelConfig("rnn_relu", 1, 4096, 16, 4096, False)
    n = config.numerics
    assert (n.input, n.weight, n.bias, n.state) == (
        FixedFormat(8, 3),
        FixedFormat(12, 0),
        FixedFormat(48, 48),
        FixedFormat(2, 1),
    )
    assert (n.cell_state, n.accum, n.activation, n.output) == (
        FixedFormat(20, -4),
        FixedFormat(32, 10),
        FixedFormat(10, 1),
        FixedFormat(24, 8),
    )
    assert (n.rounding, n.overflow, n.lut_size, n.lut_interpolate) == (
        Rounding.RND_CONV,
        Overflow.WRAP,
        65536,
        True,
    )
    assert config.hardware.lanes == 4096
    assert config_from_dict({"model": {"return_sequences": True}}).model.return_sequences is True
    assert config_from_dict({"numerics": {"lut_size": 16}}).numerics.lut_size == 16


# ------------------------------------------------------------------------------------- key by key

_NOT_FORMAT = "is not a format; write fixed<W,I> or ufixed<W,I>, e.g. fixed<16,6>"

# (section, key, bad value, message): at least one per key of SCHEMA (checked below).
BAD_VALUES = [
    (
        "model",
        "cell",
        "LSTM",
        'model.cell must be one of "lstm", "gru", "rnn_tanh", "rnn_relu", "jordan", not \'LSTM\'',
    ),
    (
        "model",
        "cell",
        "transformer",
        'model.cell must be one of "lstm", "gru", "rnn_tanh", "rnn_relu", "jordan", not \'transformer\'',
    ),
    ("model", "input_size", 0, "model.input_size must be an integer from 1 to 4,096, not 0"),
    ("model", "input_size", 4097, "model.input_size must be an integer from 1 to 4,096, not 4097"),
    ("model", "input_size", "12", "model.input_size must be an integer from 1 to 4,096, not '12'"),
    ("model", "hidden_size", -3, "model.hidden_size must be an integer from 1 to 4,096, not -3"),
    ("model", "hidden_size", 32.0, "model.hidden_size must be an integer from 1 to 4,096, not 32.0"),
    ("model", "hidden_size", True, "model.hidden_size must be an integer from 1 to 4,096, not True"),
    ("model", "num_layers", 0, "model.num_layers must be an integer from 1 to 16, not 0"),
    ("model", "num_layers", 17, "model.num_layers must be an integer from 1 to 16, not 17"),
    ("model", "head", -1, "model.head must be an integer from 0 to 4,096, not -1"),
    ("model", "head", False, "model.head must be an integer from 0 to 4,096, not False"),
    ("model", "return_sequences", 1, "model.return_sequences must be true or false, not 1"),
    ("model", "return_sequences", "true", "model.return_sequences must be true or false, not 'true'"),
    ("model", "output_size", -1, "model.output_size must be an integer from 0 to 4,096, not -1"),
    ("model", "nonlinearity", "sigmoid", 'model.nonlinearity must be one of "tanh", "relu", not \'sigmoid\''),
    ("model", "output_activation", "softmax",
     'model.output_activation must be one of "identity", "tanh", "sigmoid", not \'softmax\''),
    ("model", "gru_reset", "before_product", 'model.gru_reset must be one of "after", "before", not '
     "'before_product'"),
    ("model", "ctc_blank", -1, "model.ctc_blank must be an integer from 0 to 4,095, not -1"),
    ("model", "ctc_blank", "0", "model.ctc_blank must be an integer from 0 to 4,095, not '0'"),
    ("numerics", "input", "fixed16", f"numerics.input: 'fixed16' {_NOT_FORMAT}"),
    ("numerics", "weight", "fixed<16>", f"numerics.weight: 'fixed<16>' {_NOT_FORMAT}"),
    ("numerics", "bias", "fixed<16,6", f"numerics.bias: 'fixed<16,6' {_NOT_FORMAT}"),
    ("numerics", "state", "FIXED<16,6>", f"numerics.state: 'FIXED<16,6>' {_NOT_FORMAT}"),
    ("numerics", "cell_state", 16, f"numerics.cell_state: 16 {_NOT_FORMAT}"),
    ("numerics", "accum", "fixed<49,16>",
     "numerics.accum: a signed format's width must be an integer from 2 to 48, not 49"),
    (
        "numerics",
        "activation",
        "fixed<0,0>",
        "numerics.activation: a signed format's width must be an integer from 2 to 48, not 0",
    ),
    ("numerics", "output", "fixed<1,1>",
     "numerics.output: a signed format's width must be an integer from 2 to 48, not 1"),
    (
        "numerics",
        "weight",
        "fixed<16,17>",
        "numerics.weight: integer bits must be from -32 to the width (16), not 17",
    ),
    (
        "numerics",
        "bias",
        "fixed<16,-33>",
        "numerics.bias: integer bits must be from -32 to the width (16), not -33",
    ),
    (
        "numerics",
        "rounding",
        "round",
        'numerics.rounding must be one of "TRN", "RND", "RND_CONV", not \'round\'',
    ),
    ("numerics", "rounding", "rnd", 'numerics.rounding must be one of "TRN", "RND", "RND_CONV", not \'rnd\''),
    ("numerics", "overflow", "saturate", 'numerics.overflow must be one of "SAT", "WRAP", not \'saturate\''),
    ("numerics", "lut_size", 1000, "numerics.lut_size must be a power of two from 16 to 65536, not 1000"),
    ("numerics", "lut_size", 8, "numerics.lut_size must be a power of two from 16 to 65536, not 8"),
    ("numerics", "lut_size", 131072, "numerics.lut_size must be a power of two from 16 to 65536, not 131072"),
    ("numerics", "lut_size", 0, "numerics.lut_size must be a power of two from 16 to 65536, not 0"),
    ("numerics", "lut_size", True, "numerics.lut_size must be a power of two from 16 to 65536, not True"),
    ("numerics", "lut_interpolate", "no", "numerics.lut_interpolate must be true or false, not 'no'"),
    ("hardware", "lanes", 0, "hardware.lanes must be an integer from 1 to 4,096, not 0"),
    ("hardware", "lanes", 2.5, "hardware.lanes must be an integer from 1 to 4,096, not 2.5"),
    ("hardware", "elementwise_multipliers", "lut",
     'hardware.elementwise_multipliers must be one of "logic", "dsp", not \'lut\''),
    ("hardware", "weights", "flash", 'hardware.weights must be one of "rom", "runtime", not \'flash\''),
    ("model", "bidirectional", "yes", "model.bidirectional must be true or false, not 'yes'"),
    ("hardware", "max_sequence_length", 0, "hardware.max_sequence_length must be an integer from 1 to 65,536, not 0"),
    ("hardware", "max_sequence_length", 65537,
     "hardware.max_sequence_length must be an integer from 1 to 65,536, not 65537"),
    ("hardware", "dsp_packing", "on", 'hardware.dsp_packing must be one of "auto", "off", not \'on\''),
    ("hardware", "interleave", 0, "hardware.interleave must be an integer from 1 to 16, not 0"),
    ("hardware", "interleave", 17, "hardware.interleave must be an integer from 1 to 16, not 17"),
    ("hardware", "broadcast_fanout", 1, "hardware.broadcast_fanout must be an integer from 2 to 4,096, not 1"),
    ("hardware", "broadcast_fanout", 8.0, "hardware.broadcast_fanout must be an integer from 2 to 4,096, not 8.0"),
]


@pytest.mark.parametrize(("section", "key", "value", "message"), BAD_VALUES)
def test_bad_value(section, key, value, message):
    assert message.startswith(f"{section}.{key}")
    config_error({section: {key: value}}, message)


def test_every_schema_key_has_bad_values():
    covered = {(section, key) for section, key, _, _ in BAD_VALUES}
    assert covered == {(section, key) for section, checks in SCHEMA.items() for key in checks}


def test_unknown_section_and_key():
    config_error({"modle": {}},
                 "unknown section [modle] (did you mean [model]?); sections are [model], [numerics], [hardware]")
    config_error({"cell": "lstm"}, "unknown section [cell]; sections are [model], [numerics], [hardware]")
    config_error(
        {"model": {"hidden": 3}},
        "unknown key model.hidden (did you mean model.hidden_size?); allowed in [model]: cell, input_size, "
        "hidden_size, num_layers, head, return_sequences, gru_reset, output_size, nonlinearity, output_activation, "
        "ctc_blank, bidirectional",
    )
    config_error(
        {"hardware": {"lanes": 2, "clock": 100}},
        "unknown key hardware.clock; allowed in [hardware]: lanes, elementwise_multipliers, weights, "
        "dsp_packing, max_sequence_length, interleave, broadcast_fanout",
    )
    config_error(
        {"numerics": {"weights": "fixed<8,3>"}},
        "unknown key numerics.weights (did you mean numerics.weight?); allowed in [numerics]: input, weight, "
        "bias, state, cell_state, accum, activation, output, rounding, overflow, lut_size, lut_interpolate",
    )


def test_not_a_table():
    config_error({"model": "lstm"}, "[model] must be a table")
    config_error([("model", {})], "the configuration must be a TOML table")


# -------------------------------------------------------------------------------------- consistency


def test_gru_reset_only_for_gru():
    config_error({"model": {"cell": "lstm", "gru_reset": "before"}},
                 'model.gru_reset = "before" applies to cell = "gru" only, not to "lstm"; remove the key')
    config = config_from_dict({"model": {"cell": "gru", "gru_reset": "before"}})
    assert config.model.reset_before and not Config().model.reset_before
    assert config_from_dict({"model": {"cell": "rnn_tanh", "gru_reset": "after"}}) == Config().replace(
        "model", cell="rnn_tanh")
    assert config_from_dict(tomllib.loads(config.to_toml())) == config


def test_jordan_keys():
    jordan = {"cell": "jordan", "hidden_size": 8, "output_size": 3}
    config = config_from_dict({"model": {**jordan, "num_layers": 2, "nonlinearity": "relu",
                                         "output_activation": "sigmoid"}})
    model = config.model
    assert (model.jordan, model.recurrent_size, model.layer_input_size(1), model.output_vector) == (True, 3, 3, 3)
    assert config.output_format == config.numerics.state
    assert config_from_dict(tomllib.loads(config.to_toml())) == config
    config_error({"model": {**jordan, "output_size": 0}},
                 'cell = "jordan" needs model.output_size (O, the outputs y_t of each layer) of 1 or more')
    config_error({"model": {**jordan, "head": 2}},
                 'cell = "jordan" needs model.head = 0 (its output layer W_hy is part of the cell)')
    for key, value in (("output_size", 3), ("nonlinearity", "relu"), ("output_activation", "tanh")):
        config_error({"model": {"cell": "rnn_tanh", "hidden_size": 8, key: value}},
                     f'model.{key} applies to cell = "jordan" only, not to "rnn_tanh"; remove the key')


def test_return_sequences_with_head_is_a_head_at_every_step():
    config = config_from_dict({"model": {"head": 3, "return_sequences": True}})
    assert config.model.output_vector == 3 and not config.model.ctc
    assert "ctc_blank" not in config.to_dict()["model"] and "ctc_blank" not in config.to_toml()


_CTC_NEEDS = ("model.ctc_blank needs a head on every step: set model.head to the number of CTC classes "
              "(blank included) and model.return_sequences = true")


@pytest.mark.parametrize("model", [{"ctc_blank": 0}, {"ctc_blank": 0, "head": 3},
                                   {"ctc_blank": 0, "return_sequences": True}])
def test_ctc_blank_needs_a_head_on_every_step(model):
    config_error({"model": model}, _CTC_NEEDS)


def test_ctc_blank_is_a_head_output():
    config_error({"model": {"ctc_blank": 3, "head": 3, "return_sequences": True}},
                 "model.ctc_blank = 3 is not one of the head's 3 outputs; use 0 to 2")
    config = config_from_dict({"model": {"ctc_blank": 2, "head": 3, "return_sequences": True}})
    assert config.model.ctc and config.model.ctc_blank == 2
    assert config_from_dict(config.to_dict()) == config and "ctc_blank = 2" in config.to_toml()


def test_combinations_not_supported_yet():
    config_error({"model": {"cell": "jordan", "output_size": 3, "head": 3, "return_sequences": True, "ctc_blank": 2}},
                 'cell = "jordan" with CTC decoding (model.ctc_blank) is not supported yet: its y has no head to '
                 "decode; use another cell")
    before = {"cell": "gru", "gru_reset": "before", "head": 3}
    for extra in ({}, {"return_sequences": True}, {"return_sequences": True, "ctc_blank": 2}):  # a head at every step
        model = config_from_dict({"model": {**before, **extra}}).model
        assert model.reset_before and model.return_sequences == bool(extra)


def test_bidirectional_sizes():
    model = config_from_dict({"model": {"cell": "gru", "input_size": 5, "hidden_size": 7, "num_layers": 3,
                                        "bidirectional": True}}).model
    sizes = (model.directions, model.layer_input_size(0), model.layer_input_size(2), model.layer_output_size,
             model.output_vector)
    assert sizes == (2, 5, 14, 14, 14)
    assert config_from_dict({"model": {"bidirectional": True, "head": 4}}).model.output_vector == 4
    plain = Config()
    assert (plain.model.bidirectional, plain.model.directions, plain.hardware.max_sequence_length) == (False, 1, 64)
    assert config_from_dict({"hardware": {"max_sequence_length": 9}}).hardware.max_sequence_length == 9


@pytest.mark.parametrize("model", [{"cell": "gru", "gru_reset": "before", "head": 3},
                                   {"cell": "gru", "head": 3, "return_sequences": True, "num_layers": 2},
                                   {"cell": "rnn_relu", "return_sequences": True},
                                   {"head": 5, "return_sequences": True, "ctc_blank": 4}])
def test_bidirectional_combinations(model):
    config = config_from_dict({"model": {**model, "bidirectional": True}})
    assert config.model.bidirectional and config_from_dict(tomllib.loads(config.to_toml())) == config


def test_bidirectional_refusals():
    config_error({"model": {"cell": "jordan", "output_size": 2, "bidirectional": True}},
                 'model.bidirectional with cell = "jordan" is not supported (its y feeds back through the output '
                 "layer); use another cell or bidirectional = false")
    config_error({"model": {"bidirectional": True}, "hardware": {"weights": "runtime"}},
                 'model.bidirectional with hardware.weights = "runtime" is not supported yet; '
                 'use hardware.weights = "rom"')


def test_bidirectional_keys_in_toml():
    """A unidirectional model's text is as before the keys existed; a bidirectional one shows both."""
    assert "bidirectional" not in Config().to_toml() and "max_sequence_length" not in Config().to_toml()
    longer = config_from_dict({"hardware": {"max_sequence_length": 100}})
    assert "max_sequence_length = 100" in longer.to_toml() and config_from_dict(longer.to_dict()) == longer
    text = config_from_dict({"model": {"bidirectional": True}}).to_toml()
    assert "\nbidirectional = true\n" in text and text.endswith("\nmax_sequence_length = 64\n")


@pytest.mark.parametrize(("cell", "rows"), [("lstm", 8), ("gru", 6), ("rnn_tanh", 2), ("rnn_relu", 2)])
def test_lanes_at_most_gate_rows(cell, rows):
    assert config_from_dict({"model": {"cell": cell, "hidden_size": 2}, "hardware": {"lanes": rows}})
    config_error(
        {"model": {"cell": cell, "hidden_size": 2}, "hardware": {"lanes": rows + 1}},
        f"hardware.lanes = {rows + 1} exceeds the {rows} gate rows of a {cell} layer with "
        f"hidden_size 2; use at most that many",
    )


def test_given_lanes_need_enough_rows():
    """Lanes the file gives must fit the layer: the message names hardware.lanes."""
    config_error(
        {"model": {"cell": "rnn_tanh", "hidden_size": 4}, "hardware": {"lanes": 8}},
        "hardware.lanes = 8 exceeds the 4 gate rows of a rnn_tanh layer with hidden_size 4; "
        "use at most that many",
    )


@pytest.mark.parametrize(("cell", "hidden", "lanes"), [("rnn_tanh", 4, 4), ("lstm", 1, 4), ("gru", 2, 6),
                                                       ("rnn_relu", 1, 1), ("lstm", 2, 8), ("lstm", 32, 8)])
def test_default_lanes_never_refuse_a_valid_model(cell, hidden, lanes):
    """Without hardware.lanes: min(8, G*H), and check says why."""
    config = config_from_dict({"model": {"cell": cell, "hidden_size": hidden}})
    assert config.hardware.lanes == lanes and "hardware.lanes" not in config.given
    note = default_lanes_note(config)
    assert note == (f"hardware.lanes not given: {lanes}, the {lanes} gate rows of a {cell} layer with hidden_size "
                    f"{hidden} (the default 8 is more than it has)" if lanes < 8
                    else "hardware.lanes not given: the default 8")
    # A change of the model re-derives the default; lanes that were given stay given.
    assert config.replace("model", hidden_size=64).hardware.lanes == 8
    assert Config().replace("model", hidden_size=1).hardware.lanes == 4
    given = config_from_dict({"model": {"hidden_size": 4}, "hardware": {"lanes": 3}})
    assert default_lanes_note(given) is None and given.replace("model", hidden_size=8).hardware.lanes == 3


@pytest.mark.parametrize("key", ["input", "weight", "bias", "state", "cell_state", "accum", "output"])
def test_unsigned_formats_rejected(key):
    assert FixedFormat.parse("ufixed<16,6>").signed is False  # it parses; the configuration refuses it
    config_error(
        {"numerics": {key: "ufixed<16,6>"}},
        f"numerics.{key} must be signed (fixed<W,I>); unsigned formats are for the future",
    )


@pytest.mark.parametrize("activation", ["ufixed<16,2>", "fixed<16,0>", "fixed<16,-2>"])
def test_activation_must_hold_tanh(activation):
    config_error(
        {"numerics": {"activation": activation}},
        f"numerics.activation = {activation} cannot hold tanh's range [-1, 1]; use a signed format "
        "with at least 1 integer bit, e.g. fixed<16,2>",
    )


# -------------------------------------------------------------------------------------------- files


def load_error(path, message):
    with pytest.raises(UserError) as info:
        load_config(path)
    assert str(info.value) == message.format(path=path)


def test_load_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\ncell = "gru"\nhidden_size = 8\n\n[numerics]\nweight = "fixed<8,3>"\n')
    assert load_config(path) == Config().replace("model", cell="gru", hidden_size=8).replace(
        "numerics", weight="fixed<8,3>"
    )
    assert load_config(str(path)) == load_config(path)


def test_load_config_errors(tmp_path):
    load_error(tmp_path / "missing.toml", "configuration file '{path}' does not exist")
    load_error(tmp_path, "cannot read configuration '{path}': Is a directory")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\ncell = lstm\n")
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(bad))}: not valid TOML \(Invalid value \(at line 2"
    ):
        load_config(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[model]")
    load_error(binary, "{path}: not valid TOML (not UTF-8 text)")
    invalid = tmp_path / "invalid.toml"
    invalid.write_text("[model]\nnum_layers = 0\n")
    load_error(invalid, "{path}: model.num_layers must be an integer from 1 to 16, not 0")


# ----------------------------------------------------------------------------------- round trip, replace


def test_to_toml_defaults_text():
    assert Config().to_toml() == (
        '[model]\ncell = "lstm"\ninput_size = 12\nhidden_size = 32\nnum_layers = 1\nhead = 0\n'
        'return_sequences = false\ngru_reset = "after"\noutput_size = 0\nnonlinearity = "tanh"\n'
        'output_activation = "identity"\n\n'
        '[numerics]\ninput = "fixed<16,6>"\nweight = "fixed<16,6>"\nbias = "fixed<16,6>"\n'
        'state = "fixed<16,6>"\ncell_state = "fixed<16,6>"\naccum = "fixed<41,17>"\n'
        'activation = "fixed<16,2>"\noutput = "fixed<16,6>"\nrounding = "RND"\noverflow = "SAT"\n'
        "lut_size = 1024\nlut_interpolate = false\n\n"
        "[hardware]\nlanes = 8\nelementwise_multipliers = \"logic\"\nweights = \"rom\"\ndsp_packing = \"auto\"\n"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {
            "model": {
                "cell": "gru",
                "input_size": 3,
                "hidden_size": 5,
                "num_layers": 2,
                "return_sequences": True,
            },
            "numerics": {
                "weight": "fixed<8,-2>",
                "cell_state": "fixed<24,8>",
                "rounding": "TRN",
                "overflow": "WRAP",
                "lut_size": 256,
                "lut_interpolate": True,
            },
            "hardware": {"lanes": 15},
        },
        {"model": {"cell": "rnn_relu", "head": 10, "hidden_size": 1}, "hardware": {"lanes": 1}},
    ],
)
def test_to_toml_round_trip(changes):
    config = config_from_dict(changes)
    assert config_from_dict(tomllib.loads(config.to_toml())) == config
    assert config_from_dict(config.to_dict()) == config


def test_replace():
    base = Config()
    changed = base.replace("numerics", weight="fixed<8,3>", rounding="TRN")
    assert (changed.numerics.weight, changed.numerics.rounding) == (FixedFormat(8, 3), Rounding.TRN)
    assert changed.model == base.model and changed.numerics.bias == base.numerics.bias
    assert base.numerics.weight == FixedFormat(16, 6)  # the original is unchanged
    # Objects work as well as their TOML spelling.
    assert base.replace(
        "numerics", weight=FixedFormat(8, 3), rounding=Rounding.TRN, overflow=Overflow.WRAP
    ) == changed.replace("numerics", overflow="WRAP")
    assert base.replace("hardware", lanes=3).hardware.lanes == 3


def test_replace_validates():
    base = Config()
    with pytest.raises(UserError, match=r"^model\.hidden_size must be an integer from 1 to 4,096, not 0$"):
        base.replace("model", hidden_size=0)
    with pytest.raises(UserError, match=r"^unknown key model\.size; "):
        base.replace("model", size=3)
    with pytest.raises(UserError, match=r"^unknown section \[modle\] \(did you mean \[model\]\?\); "):
        base.replace("modle", cell="gru")
    with pytest.raises(UserError, match=r"^hardware\.lanes = 8 exceeds the 4 gate rows "):
        base.replace("hardware", lanes=8).replace("model", cell="rnn_tanh", hidden_size=4)
    with pytest.raises(UserError, match=r"^numerics\.weight must be signed "):
        base.replace("numerics", weight=FixedFormat(8, 3, signed=False))


@pytest.mark.parametrize(("model", "hardware", "what"), [
    ({"bidirectional": True}, {}, "model.bidirectional"),
    ({"cell": "jordan", "output_size": 2}, {}, 'cell = "jordan"'),
    ({"cell": "gru", "gru_reset": "before"}, {}, 'model.gru_reset = "before"'),
    ({"head": 3, "return_sequences": True, "ctc_blank": 0}, {}, "model.ctc_blank (CTC decoding)"),
    ({}, {"weights": "runtime"}, 'hardware.weights = "runtime"'),
])
def test_interleave_refusals(model, hardware, what):
    config_error({"model": model, "hardware": {**hardware, "interleave": 2}},
                 f"hardware.interleave = 2 with {what} is not supported yet; use hardware.interleave = 1")


@pytest.mark.parametrize(("key", "value"), [("interleave", 3), ("broadcast_fanout", 4)])
def test_added_keys_in_toml(key, value):
    """At its default the text is as before the key existed; set, the key round-trips."""
    assert key not in Config().to_toml()
    config = config_from_dict({"model": {"head": 2}, "hardware": {key: value}})
    assert f"\n{key} = {value}\n" in config.to_toml() and config_from_dict(tomllib.loads(config.to_toml())) == config


def test_interleave_in_the_description():
    from rnnhw.describe import describe_config
    from rnnhw.spec.schedule import Schedule

    config = config_from_dict({"model": {"input_size": 12, "hidden_size": 32}, "hardware": {"lanes": 32,
                                                                                          "interleave": 2}})
    assert Schedule(config).cycles_per_step() == 176
    text = describe_config(config)
    assert "expected 176 cycles per step (schedule model), MAC utilization 1.000" in text
    assert "interleave: 2 sequences walked round-robin" in text and "(one stream alone: 195)" in text
    assert ("broadcast tree: 4 groups of up to 8 lanes behind 1 register level(s) (hardware.broadcast_fanout = 8); "
            "a pass's sums leave 9 cycles after its last step") in text
    assert "broadcast tree" not in describe_config(config.replace("hardware", lanes=8))
    # Banked weight memories count too: LSTM I=64 H=128 P=16 has 6 banks of 1,024 words.
    banked = config_from_dict({"model": {"input_size": 64, "hidden_size": 128}, "hardware": {"lanes": 16}})
    assert "a pass's sums leave 11 cycles after its last step" in describe_config(banked)
