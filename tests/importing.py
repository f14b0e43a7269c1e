"""Shared by the import tests: run ``rnnhw import`` and ``rnnhw golden --float`` in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnhw.cli import main
from rnnhw.golden.model import GoldenModel
from rnnhw.sim.verify import run_simulation
from rnnhw.spec.config import load_config
from rnnhw.spec.weights import load_weights, quantize_weights


def import_cli(capsys, model_path: Path, out: Path, *extra) -> tuple[int, str, str]:
    status = main(["import", str(model_path), "-o", str(out), *[str(e) for e in extra]])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def import_model(capsys, model_path: Path, *extra) -> tuple[Path, Path, str]:
    """Import; returns the written configuration, weights and what the command printed."""
    out = model_path.with_name(model_path.stem + "_rnnhw.toml")
    status, stdout, stderr = import_cli(capsys, model_path, out, *extra)
    assert status == 0, stderr
    return out, out.with_suffix(".npz"), stdout


def golden_float(capsys, config: Path, weights: Path, x: np.ndarray, lengths=None) -> np.ndarray:
    """``rnnhw golden --float`` on ``x`` ``[N, T, I]``."""
    inputs, output = config.with_name("x.npy"), config.with_name("y.npy")
    np.save(inputs, x.astype(np.float64))
    argv = ["golden", str(config), "--weights", str(weights), "--inputs", str(inputs), "-o", str(output), "--float"]
    if lengths is not None:
        np.save(config.with_name("lengths.npy"), np.asarray(lengths))
        argv += ["--lengths", str(config.with_name("lengths.npy"))]
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return np.load(output)


def refusal(capsys, model_path: Path, tmp_path: Path, *extra) -> str:
    """The one-line error of an import that must fail; checks exit 2 and that nothing was written."""
    out = tmp_path / "refused.toml"
    status, stdout, stderr = import_cli(capsys, model_path, out, *extra)
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("rnnhw import: error: ")
    assert not out.exists() and not out.with_suffix(".npz").exists()
    return stderr.removeprefix("rnnhw import: error: ").strip()


def assert_bit_exact_on_verilator(config_path: Path, weights_path: Path, x: np.ndarray, lengths: np.ndarray,
                                  build_dir: Path):
    """The imported model's fixed-point form on Verilator equals the golden model bit for bit (``x`` float
    ``[N, T, I]``); returns the loaded configuration."""
    config = load_config(config_path)
    qweights = quantize_weights(load_weights(weights_path, config), config, warn=False)
    quantized, _ = GoldenModel(config, qweights).quantize_inputs(x)
    result = run_simulation(config, qweights, quantized, lengths, build_dir=build_dir, progress=False)
    assert result.bit_exact, result.first_mismatch
    assert result.sequences == len(x) and result.timesteps == lengths.sum()
    return config
