"""Errors that the command line turns into one-line messages and exit statuses."""


class UserError(Exception):
    """Bad input (configuration, weights, data, options): exit status 2, one line, no traceback."""

    exit_status = 2


class VerificationError(Exception):
    """Hardware and golden model disagree: exit status 1."""

    exit_status = 1
