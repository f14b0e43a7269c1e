"""The ``rnnhw`` command line.

Each command lives in ``rnnhw/commands/<name>.py`` with ``register(subparsers)`` (adds its parser and
sets ``func``) and a ``run(args)`` that returns an exit status. Errors: :class:`UserError` → one line on
stderr and exit 2; :class:`VerificationError` → one line and exit 1. No traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from rnnhw.spec.errors import UserError, VerificationError

#: Command modules in the order ``rnnhw --help`` lists them.
COMMANDS = ("check", "golden", "generate", "simulate", "accuracy", "calibrate", "train", "import_model", "synth",
            "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnhw",
        description="Generate, verify and measure fixed-point RNN accelerators (LSTM, GRU, Elman).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"rnnhw.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"rnnhw.commands.{name}":
                raise
            continue  # command not built yet
        module.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"rnnhw: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, VerificationError) as exc:
        print(f"rnnhw {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"rnnhw {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
