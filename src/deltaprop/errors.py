"""The one exception type users see: a clear message naming the problem and where it entered.

Every public function raises :class:`DeltapropError` for bad input. It is a ``ValueError`` (the common case:
a value out of its domain, a file that does not parse), so ``except ValueError`` keeps working; where Python's
conventions expect a ``TypeError`` (an argument of the wrong type: a string where an array belongs, ``None``
where a number belongs) the error is a :class:`DeltapropTypeError`, which is both a ``DeltapropError`` and a
``TypeError``. Catching ``DeltapropError`` therefore catches every refusal of deltaprop's, and nothing else.
"""


class DeltapropError(ValueError):
    """Bad input: a file, a formula, data or a setting. The CLI prints it as one line and exits with status 2."""


class DeltapropTypeError(DeltapropError, TypeError):
    """An argument of the wrong type (a ``TypeError`` too, as Python's own functions raise for those)."""


class DeltapropWarning(UserWarning):
    """Something that works but is probably not what was meant (a non-canonical output/loss pair, a column
    mostly missing). The CLI prints it as one line on stderr and goes on."""
