"""Errors that the command line turns into one-line messages and exit statuses.

Every layer raises these; only the application layer (``rnnhw.cli``) turns them into exit statuses.
"""

__all__ = ["UserError", "ConfigError", "VerificationError"]


class UserError(Exception):
    """Bad input (configuration, weights, data, options): exit status 2, one line, no traceback."""

    exit_status = 2


class ConfigError(UserError):
    """A configuration that is not valid: a key, value or combination (exit status 2 like any bad input)."""


class VerificationError(Exception):
    """Hardware and golden model disagree: exit status 1."""

    exit_status = 1
