"""The ``rnnhw`` command line.

Each command lives in ``rnnhw/commands/<name>.py`` with ``register(subparsers)`` (adds its parser and
sets ``func``) and a ``run(args)`` that returns an exit status. Errors: :class:`UserError` and a
file-system :class:`OSError` → one line on stderr and exit 2; :class:`VerificationError` → one line and
exit 1; Ctrl-C (SIGINT) → exit 130 and SIGTERM → exit 143, one line each, child processes terminated
(:mod:`rnnhw.processes`). No traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from rnnhw.processes import INTERRUPTED_STATUS, TERMINATED_STATUS, Terminated, signals_stop_children
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
        with signals_stop_children():
            return int(args.func(args) or 0)
    except (UserError, VerificationError) as exc:
        print(f"rnnhw {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except OSError as exc:  # a file-system failure no command turned into a UserError: still bad input
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rnnhw {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return UserError.exit_status
    except Terminated:
        print(f"rnnhw {args.command}: terminated", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        print(f"rnnhw {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED_STATUS


if __name__ == "__main__":
    sys.exit(main())
