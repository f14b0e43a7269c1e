"""One module per ``rnnhw`` command (see :mod:`rnnhw.cli`)."""
