"""`import deltaprop` and `deltaprop --help` load none of the heavy libraries (a correctness check of the lazy
imports, in a fresh interpreter; the CPU time itself is measured by benchmarks/startup.py, not here)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("sympy", "scipy", "matplotlib", "sklearn", "rich", "pandas", "torch")


def loaded_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_deltaprop_loads_no_heavy_library():
    assert loaded_after("import deltaprop") == []


def test_help_loads_no_heavy_library_and_lists_every_command():
    code = ("import contextlib, io\nfrom deltaprop import cli\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    status = cli.main(['--help'])\n"
            "assert status == 0, status\nassert all(name in buf.getvalue() for name in cli.COMMANDS), buf.getvalue()")
    assert loaded_after(code) == []


def test_training_does_not_load_sympy_or_scipy():
    """A layered network trained from arrays needs NumPy alone (the rest stays for derive, graphs, figures)."""
    code = ("import numpy as np, deltaprop as dp\nrng = np.random.default_rng(0)\n"
            "X = rng.random((32, 3)); T = np.eye(2)[rng.integers(0, 2, 32)]\n"
            "dp.fit((X, T), epochs=2, hidden=[4], batch_size=8)")
    assert not {"sympy", "scipy", "matplotlib", "pandas"} & set(loaded_after(code))


@pytest.mark.parametrize("name", ["Network", "GraphNetwork", "fit", "load_model", "TrainConfig", "derive",
                                  "gradcheck", "load_network", "DeltapropError"])
def test_public_names_resolve(name):
    import deltaprop as dp

    assert getattr(dp, name) is not None
    assert name in dir(dp) and name in dp.__all__


def test_unknown_attribute_is_an_attribute_error():
    import deltaprop as dp

    with pytest.raises(AttributeError, match="no_such_name"):
        dp.no_such_name  # noqa: B018
