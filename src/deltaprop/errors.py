"""The one exception type users see: a clear message naming the problem and where it entered."""


class DeltapropError(ValueError):
    """Bad input: a file, a formula, data or a setting. The CLI prints it as one line and exits with status 2."""


class DeltapropWarning(UserWarning):
    """Something that works but is probably not what was meant (a non-canonical output/loss pair, a column
    mostly missing). The CLI prints it as one line on stderr and goes on."""
