"""Issue 17's quick tier: hostile and oversized inputs as real processes under a time and memory limit
(fuzz/stress.py runs them all: `PYTHONPATH=src python fuzz/stress.py`), Ctrl-C at random moments of start-up,
and the budgets themselves (parsing, raising one with --limit or DELTAPROP_LIMITS, the TOML pre-scan)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import limits
from deltaprop.cli import main
from deltaprop.files import safe

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "fuzz"))
import stress  # noqa: E402

QUICK = [c for c in stress.CASES if c.quick]


@pytest.mark.parametrize("case", QUICK, ids=[c.name for c in QUICK])
def test_hostile_input_is_refused_within_seconds_and_memory(case):
    r = stress.run_case(case, seconds=10.0, mb=1000.0)
    assert r.ok, f"{case.name}: {r.problems}; exit {r.code}, {r.seconds:.1f} s, {r.mb:.0f} MB; {r.stderr[-500:]}"


def _package_import_is_heavy() -> bool:
    out = subprocess.run([sys.executable, "-c", "import sys, deltaprop; print('numpy' in sys.modules)"],
                         env=stress.env(), capture_output=True, text=True)
    return out.stdout.strip() == "True"


@pytest.fixture(scope="module")
def sigints():
    return stress.sigint_at_startup(8, seed=17)


def test_ctrl_c_at_random_moments_of_start_up_is_one_line_and_130(sigints):
    problems, seen = sigints
    assert not problems, (problems, seen)
    assert sum(seen.values()) == 8


def test_ctrl_c_while_importing_the_package(sigints):
    """`python -m deltaprop` imports the package before deltaprop/__main__.py can install its handler; once that
    import is lazy (issue 15) no signal may land there with a traceback."""
    if _package_import_is_heavy():
        pytest.xfail("import deltaprop still imports NumPy and the engines (made lazy by issue 15)")
    assert "import deltaprop" not in sigints[1], sigints[1]


# --- the budgets ---------------------------------------------------------------------------------------------


def test_budget_values_parse_with_units_and_refuse_nonsense():
    assert limits.parse_settings("memory=2GiB, trace_values=1000", "x") == {"memory": 2**31, "trace_values": 1000}
    assert limits.parse_value("memory", "1.5e9", "x") == 1_500_000_000
    for bad in ("memory=lots", "nosuch=1", "trace_values=2GiB", "memory=0", "memory", "toml_depth=-1"):
        with pytest.raises(dp.DeltapropError):
            limits.parse_settings(bad, "x")


def test_refusal_names_the_budget_and_how_to_raise_it(capsys):
    net = str(ROOT / "examples" / "exam_004.toml")
    assert main(["--limit", "trace_values=10", "trace", net]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "trace_values limit of 10" in err and "--limit trace_values=N" in err and "DELTAPROP_LIMITS" in err
    assert main(["trace", net, "--json"]) == 0  # the flag held for that command only
    assert limits.value("trace_values") == limits.BUDGETS["trace_values"].default


def test_environment_raises_and_flag_wins(monkeypatch, capsys):
    net = str(ROOT / "examples" / "exam_004.toml")
    monkeypatch.setenv(limits.ENV, "trace_values=10")
    assert main(["trace", net, "--json"]) == 2
    assert "trace_values limit of 10" in capsys.readouterr().err
    assert main(["--limit", "trace_values=100000", "trace", net, "--json"]) == 0
    assert main(["trace", net, "--json", "--limit", "trace_values=100000"]) == 0  # after the subcommand too
    monkeypatch.setenv(limits.ENV, "memory=whatever")
    assert main(["trace", net, "--json"]) == 2
    assert "DELTAPROP_LIMITS" in capsys.readouterr().err


def test_toml_depth_is_counted_before_parsing():
    depth = limits.value("toml_depth")
    ok = "x = 1\n" + ".".join(["a"] * depth) + " = 1\n"  # depth parts: depth - 1 dots
    assert safe.parse_toml(ok, "f")["a"]
    for text in ("x = 1\n" + ".".join(["a"] * (depth + 2)) + " = 1\n",
                 "[" + ".".join(['"a"'] * (depth + 2)) + "]\n",
                 "x = " + "[" * (depth + 1) + "]" * (depth + 1) + "\n",
                 "x = " + "{a = " * (depth + 1) + "1" + "}" * (depth + 1) + "\n"):
        with pytest.raises(dp.DeltapropError, match="toml_depth"):
            safe.parse_toml(text, "f")
    # brackets and dots inside strings and comments are not nesting
    text = 'x = "' + "[" * 500 + "a." * 500 + '"  # ' + "{" * 500 + "\n"
    assert safe.parse_toml(text, "f")["x"].startswith("[[")


def test_toml_items_are_counted_before_parsing():
    n = limits.value("toml_items")
    with pytest.raises(dp.DeltapropError, match="toml_items"):
        safe.parse_toml("x = [" + "1," * n + "]\n", "f")
    assert len(safe.parse_toml("x = [" + "1," * 1000 + "]\n", "f")["x"]) == 1000


def test_training_memory_is_estimated_before_allocating(tmp_path, capsys):
    sizes = [64, 400_000, 10]  # 30 M parameters, within the parameter limit
    assert limits.training_bytes(sizes, 1257, 1797, itemsize=4) > 2**31  # batches of all 1257 training rows
    code = main(["train", "--data", "digits", "--hidden", "400000", "--batch-size", "2000", "--out",
                 str(tmp_path / "r"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "memory limit of 2 GiB" in err and "--limit memory=N" in err
    assert not (tmp_path / "r" / "model.npz").exists()


def test_idx_within_budgets_reads_exactly_and_gzip_bomb_is_refused_unread(tmp_path):
    from deltaprop.data import readers

    shape = (5, 3, 2)
    data = (np.arange(30) - 7).astype(">i2")
    raw = bytes([0, 0, 0x0B, 3]) + np.array(shape, ">u4").tobytes() + data.tobytes()
    (tmp_path / "a-idx").write_bytes(raw)
    np.testing.assert_array_equal(readers.load_idx(tmp_path / "a-idx"), data.reshape(shape).astype(np.int64))
    limits.set_limits({"memory": 1000})
    try:
        with pytest.raises(dp.DeltapropError, match="memory limit"):
            readers.load_idx(tmp_path / "a-idx", copies=5)  # 30 × 8 × 5 = 1200 bytes
    finally:
        limits.set_limits({})


def test_zero_d_arrays_in_npz_are_one_line(tmp_path):
    from deltaprop.data import readers

    np.savez(tmp_path / "z.npz", X=np.array(2.0), y=np.array([1.0]))
    with pytest.raises(dp.DeltapropError, match="0-d"):
        readers.npz_dataset(tmp_path / "z.npz")
    np.savez(tmp_path / "t.npz", X=np.zeros((2, 2)), T=np.array(1.0))
    with pytest.raises(dp.DeltapropError, match="T is a single number"):
        readers.load_xt(tmp_path / "t.npz")


def test_gradcheck_work_is_bounded():
    from deltaprop.explain.gradcheck import gradcheck, work

    net = dp.Network([30, 300, 300, 1], "tanh", "quadratic", output="identity", seed=0)
    X, T = np.zeros((4, 30)), np.zeros((4, 1))
    assert work(net, 4) > limits.value("gradcheck_work")
    with pytest.raises(dp.DeltapropError, match="gradcheck_work"):
        gradcheck(net, X, T)
