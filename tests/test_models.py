"""``rnnhw.models``: the PyTorch modules of the cells PyTorch lacks (their arguments; their function is
held to the float reference and the written equations in test_float_ref.py)."""

import pytest
import torch

from rnnhw.models import JordanRNN, ResetBeforeGRU


def test_reset_before_gru_has_nn_gru_names_and_shapes():
    module, reference = ResetBeforeGRU(3, 4, 2), torch.nn.GRU(3, 4, 2)
    assert {k: v.shape for k, v in module.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}
    output, h_n = module(torch.zeros(2, 5, 3))
    assert output.shape == (2, 5, 4) and h_n.shape == (2, 2, 4)


def test_jordan_names_and_shapes():
    module = JordanRNN(3, 4, 2, 2, nonlinearity="relu", output_activation="sigmoid")
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == {
        "weight_ih_l0": (4, 3), "bias_ih_l0": (4,), "weight_yh_l0": (4, 2), "bias_yh_l0": (4,),
        "weight_hy_l0": (2, 4), "bias_hy_l0": (2,),
        "weight_ih_l1": (4, 2), "bias_ih_l1": (4,), "weight_yh_l1": (4, 2), "bias_yh_l1": (4,),
        "weight_hy_l1": (2, 4), "bias_hy_l1": (2,)}
    y, (h_n, y_n) = module(torch.zeros(3, 5, 3))
    assert y.shape == (3, 5, 2) and h_n.shape == (2, 3, 4) and y_n.shape == (2, 3, 2)
    assert torch.equal(y[:, -1], y_n[-1])


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ResetBeforeGRU(0, 4), "input_size must be a positive integer, not 0"),
    (lambda: ResetBeforeGRU(3, True), "hidden_size must be a positive integer, not True"),
    (lambda: ResetBeforeGRU(3, 4, 1.5), "num_layers must be a positive integer, not 1.5"),
    (lambda: JordanRNN(3, 4, 0), "output_size must be a positive integer, not 0"),
    (lambda: JordanRNN(3, 4, 2, nonlinearity="sigmoid"), "nonlinearity must be 'tanh' or 'relu', not 'sigmoid'"),
    (lambda: JordanRNN(3, 4, 2, output_activation="relu"),
     "output_activation must be 'identity', 'tanh' or 'sigmoid', not 'relu'"),
])
def test_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        make()
