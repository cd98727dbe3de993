"""Bounds on SymPy's work in one derivation (issue 17): sizes are checked before the work, then one clock.

``tidy`` simplifies an expression only below :attr:`Budget.simplify_ops` operations (``factor_terms`` above),
inside :func:`time_limit`, which stops SymPy (SIGALRM, in the main thread) once the derivation's seconds are
spent; the caller then keeps the unsimplified form, which is as true, and the budget notes why.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import sympy as sp


@dataclass
class Budget:
    """Bounds on SymPy's work in one derivation (issue 17): sizes checked before the work, then a clock."""

    simplify_ops: int = 80  # simplify() only below this many operations; cancel/factor_terms above
    expanded_ops: int = 4000  # the written-out form is built only when its size estimate is below this
    seconds: float = 2.0  # SymPy time for one derivation; past it the unsimplified forms are kept
    spent: float = 0.0
    notes: list[str] = field(default_factory=list)

    def left(self) -> float:
        return self.seconds - self.spent


class OutOfTime(Exception):
    pass


@contextmanager
def time_limit(budget: Budget):
    """Raise OutOfTime inside the block once the budget's clock runs out (main thread: SIGALRM)."""
    start = time.perf_counter()
    left = budget.left()
    use_alarm = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if left <= 0:
        raise OutOfTime
    old = None
    if use_alarm:
        def _raise(signum, frame):
            raise OutOfTime
        old = signal.signal(signal.SIGALRM, _raise)
        signal.setitimer(signal.ITIMER_REAL, left)
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        budget.spent += time.perf_counter() - start


def tidy(e: sp.Expr, budget: Budget, what: str) -> sp.Expr:
    """A short form of e within the budget: simplify (small), cancel + factor_terms (large), or e itself."""
    try:
        with time_limit(budget):
            if sp.count_ops(e) <= budget.simplify_ops:
                s = sp.simplify(e)
                f = sp.factor(s)
                s = f if sp.count_ops(f) <= sp.count_ops(s) + 2 else s  # 2(z² − t)/z³ over 2/z − 2t/z³
            else:
                s = sp.factor_terms(e)
            if s.has(sp.Piecewise) and not e.has(sp.Piecewise):  # cases SymPy made up: the plain form reads better
                return e
            return fold_sign(s)
    except OutOfTime:
        budget.notes.append(f"{what} is shown unsimplified: SymPy's time limit ({budget.seconds:g} s) ran out")
        return e


def fold_sign(e: sp.Expr) -> sp.Expr:
    """−(t − a)/a² as (a − t)/a²: a negative coefficient folded into one difference of the product."""
    coeff, rest = e.as_coeff_Mul()
    if not (coeff.is_Number and coeff < 0):
        return e
    factors = sp.Mul.make_args(rest)
    f = next((x for x in factors if x.is_Add), None)
    if f is None:
        return e
    keep = [] if coeff == -1 else [-coeff]
    folded = sp.Mul(*keep, *[-x if x is f else x for x in factors], evaluate=False)
    return folded if sp.expand(folded - e) == 0 else e
