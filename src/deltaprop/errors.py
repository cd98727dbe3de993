"""The one exception type users see: a clear message naming the problem and where it entered."""


class DeltapropError(ValueError):
    """Bad input: a file, a formula, data or a setting. The CLI prints it as one line and exits with status 2."""
