"""The wheel installs whole: built here, installed into a fresh virtual environment, and the README's commands
run from a folder outside the repository, with deltaprop coming only from the wheel.

To stay fast the new environment sees the test environment's packages (NumPy, SciPy, …) through a .pth line
and the wheel is installed with --no-deps; the test checks that `deltaprop` itself is imported from the new
environment, never from this checkout.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, cwd, env, timeout=300):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_the_readme(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["MPLBACKEND"] = "Agg"
    # built from a copy of what the wheel is made of: setuptools' build/ folder in the checkout may hold modules
    # deleted since, which would go into the wheel
    src = tmp_path / "src-copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("src", "examples"):
        shutil.copytree(ROOT / name, src / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
         str(src)], cwd=tmp_path, env=env)
    (wheel,) = wheels.glob("deltaprop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    examples = sorted(p.name for p in (ROOT / "examples").glob("*.toml"))
    assert examples and all(f"deltaprop/examples/{n}" in names for n in examples)
    assert "deltaprop/py.typed" in names
    modules = sorted(p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src/deltaprop").rglob("*.py"))
    assert modules == sorted(n for n in names if n.endswith(".py"))  # all of the package, nothing else
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("LICENSE") for n in names)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    py = venv / "bin" / "python"
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp_path, env=env).strip())
    (site / "_deps_from_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--ignore-installed",
         str(wheel)], cwd=tmp_path, env=env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run([str(py), "-c", "import deltaprop; print(deltaprop.__file__)"], cwd=work, env=env)
    assert where.startswith(str(venv)), where
    exe = str(venv / "bin" / "deltaprop")
    readme = [
        [exe, "trace", "examples/layered_2-3-2.toml"],
        [exe, "gradcheck", "examples/layered_2-3-2.toml"],
        [exe, "trace", "examples/exam_004.toml", "--lr", "0.1"],
        [exe, "derive", "examples/exam_004.toml", "--wrt", "z3", "--expanded", "--notation", "exam"],
        [exe, "derive", "--likelihood", "categorical"],
        [exe, "examples"],
        [exe, "examples", "exam_004"],
        [exe, "draw", "exam_004", "--grads", "-o", "exam.svg"],
        [exe, "train", "--data", "xor", "--epochs", "3", "--quiet", "--out", "runs/xor"],
        [exe, "evaluate", "runs/xor/model.npz", "--data", "xor", "--split", "test", "--json"],
    ]
    outputs = [run(cmd, cwd=work, env=env) for cmd in readme]
    assert "∂C/∂W" in outputs[0] and "pass" in outputs[1]
    assert (work / "exam_004.toml").is_file() and (work / "exam.svg").read_text().lstrip().startswith("<")
    python_block = (
        "import numpy as np\n"
        "import deltaprop as dp\n"
        "net = dp.Network([3, 4, 2], activations='tanh', output='softmax', loss='cross_entropy', seed=0)\n"
        "X = np.random.default_rng(0).standard_normal((8, 3))\n"
        "T = np.eye(2)[[0, 1, 1, 0, 1, 0, 0, 1]]\n"
        "g = net.loss_and_grads(X, T)\n"
        "assert max(dp.gradcheck(net, X, T).errors.values()) < 1e-6\n"
        "net = dp.load_network('examples/exam_004.toml')\n"
        "r = dp.derive(net, [[0.7, -1.2]], [[1.5]], 'z3')\n"
        "print(r.value)\n"
    )
    run([str(py), "-c", python_block], cwd=work, env=env)
