"""Every seed exercise has one command (examples/seed_exercises.txt); each answer is checked here against the
seed's own answer where it is right, and against an independent computation (by hand, NumPy, SymPy, finite
differences) everywhere, including 003 (i) and (l), where the seed's answer is unfinished or wrong."""

import contextlib
import io
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from deltaprop.cli import main
from deltaprop.files import netfile

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def commands() -> dict[str, list[str]]:
    out = {}
    for line in (EX / "seed_exercises.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, rest = line.split(None, 1)
            out[key] = shlex.split(rest)
    return out


CMDS = commands()


def run(key: str, *extra: str) -> str:
    argv = [str(ROOT / a) if a.startswith("examples/") else a for a in CMDS[key]] + list(extra)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0, argv
    return out.getvalue()


def matrices(text: str, after: str) -> list[np.ndarray]:
    """The [a b; c d] matrices printed on the lines that contain ``after``."""
    found = []
    for line in text.splitlines():
        if after in line:
            for m in re.findall(r"\[([-0-9.e ;]+)\]", line):
                found.append(np.array([[float(v) for v in row.split()] for row in m.split(";")]))
    return found


def test_every_seed_exercise_has_a_command():
    want = {"000a", "000b", "001", "002", *(f"003{c}" for c in "abcdefghijkl"), *(f"004{c}" for c in "abcd")}
    assert set(CMDS) == want


def test_000a_delta_rules_in_the_homework_notation():
    out = run("000a")
    assert "δ_j^(L) = ∂c/∂z_j^(L) = ∂c/∂a_j^(L) · g_L′(z_j^(L)) = (a_j - t_j) g_L′(z_j^(L))" in out
    assert "δ_j^(l) = Σ_k ∂c/∂z_k^(l+1) · ∂z_k^(l+1)/∂z_j^(l) = g_l′(z_j^(l)) Σ_k W_jk^(l+1) δ_k^(l+1)" in out
    assert "δ^(l) = (W^(l+1) δ^(l+1)) ⊙ g_l′(z^(l))" in out  # W_ij from i to j: no transpose


def test_000b_gradients_in_the_homework_notation():
    out = run("000b")
    assert "∂c/∂W_ij^(l) = δ_j^(l) a_i^(l-1)" in out
    assert "∂c/∂b_j^(l) = δ_j^(l)" in out and "seed 000 writes ∂c/∂b_i" in out
    assert "∂c/∂W^(l) = a^(l−1) (δ^(l))ᵀ" in out
    batch = io.StringIO()
    with contextlib.redirect_stdout(batch):
        main(CMDS["000b"][:-1] + ["batch"])
    assert "C = (1/N) Σ_n c(x_n)" in batch.getvalue()  # the seed's C = 1/|D| Σ c


def sig(v):
    return 1 / (1 + np.exp(-v))


def test_001_two_layer_chain_both_weights():
    x, w1, b, w2, mu, y = 0.5, 0.8, 0.1, -1.2, 0.3, 1.0
    z1 = w1 * x + b
    z2 = w2 * sig(z1) + mu
    a = sig(z2)
    fp = lambda v: sig(v) * (1 - sig(v))  # noqa: E731
    dC_dw1 = -2 * (y - a) * fp(z2) * w2 * fp(z1) * x  # the slides: ∂C/∂a ∂f/∂z⁽²⁾ w⁽²⁾ ∂f/∂z⁽¹⁾ x
    out = run("001")
    assert f"value: {dC_dw1:.12g}" in out
    assert "∂L/∂wx1 = 2*w12*x*(a2 - t)*σ′(z1)*σ′(z2)" in out  # the slides' product, x the input
    r = json.loads(run("001", "--format", "json"))
    assert r["value"] == pytest.approx(dC_dw1, rel=1e-12)


def fd_grads(net, X, T, h=1e-6):
    out = []
    for P in (p for pair in zip(net.W, net.b) for p in pair):
        G = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + h
            up = net.loss_and_grads(X, T).cost
            P[idx] = old - h
            down = net.loss_and_grads(X, T).cost
            P[idx] = old
            G[idx] = (up - down) / (2 * h)
        out.append(G)
    return out


def test_002_four_equations_in_matrix_form_and_numbers():
    out = run("002")
    assert "δ^(L) = ∇_a C_x ⊙ σ_L′(z^(L))" in out
    assert "δ^(l) = ((w^(l+1))ᵀ δ^(l+1)) ⊙ σ_l′(z^(l))" in out
    assert "∂C_x/∂w^(l) = δ^(l) (a^(l−1))ᵀ,   ∂C_x/∂b^(l) = δ^(l)" in out
    doc = netfile.read_toml(EX / "layered_002.toml")
    net = netfile.from_dict(doc)
    X, T = netfile.sample(doc, net)
    fd = fd_grads(net, X, T)
    shown = matrices(out, "∂C_x/∂w^(")
    # printed layer 2 first: [∂w2, ∂b2, ∂w1, ∂b1]
    assert np.allclose(shown[0], fd[2], atol=2e-6) and np.allclose(shown[1].ravel(), fd[3], atol=2e-6)
    assert np.allclose(shown[2], fd[0], atol=2e-6) and np.allclose(shown[3].ravel(), fd[1], atol=2e-6)


def test_003ab_the_network_as_one_formula():
    assert "y_j = h_2(Σ_p=0 w_jp^(2) h_1(Σ_l=0 w_pl^(1) x_l))" in run("003a")  # the seed's solution to (a)
    assert "y_j = h_3(Σ_p=0 w_jp^(3) h_2(Σ_q=0 w_pq^(2) h_1(Σ_l=0 w_ql^(1) x_l)))" in run("003b")


def test_003c_recursion():
    out = run("003c")
    assert "a_j^(l) = Σ_i=0..n_(l−1) w_ji^(l) z_i^(l−1),   l = 1, …, L" in out
    assert "z_j^(l) = h_l(a_j^(l)),   l = 1, …, L" in out and "y_j = z_j^(L)" in out


def test_003d_linear_collapse_numbers():
    out = run("003d")
    doc = netfile.read_toml(EX / "layered_003.toml")
    W1, b1 = np.array(doc["layer"][0]["weights"]), np.array(doc["layer"][0]["bias"])
    W2, b2 = np.array(doc["layer"][1]["weights"]), np.array(doc["layer"][1]["bias"])
    Wt, bt = matrices(out, "W̃ = [")[:2]
    assert np.allclose(Wt, W2 @ W1, atol=1e-6) and np.allclose(bt.ravel(), W2 @ b1 + b2, atol=1e-6)
    x = np.array(doc["sample"]["x"])
    assert np.allclose(matrices(out, "W̃ x + b̃ =")[0].ravel(), W2 @ (W1 @ x + b1) + b2, atol=1e-6)
    assert "linear in x" in out


def test_003ef_gaussian_and_the_sigma_optimum():
    out = run("003e")
    assert "(ND/2) log 2πσ² + (1/2σ²) Σ_n ‖y(x_n) − t_n‖²" in out
    assert "σ² = (1/ND) Σ_n ‖y(x_n) − t_n‖²" in run("003f")
    N, D, S, s2 = sp.symbols("N D S s2", positive=True)  # independent: minimise ND/2 log 2πσ² + S/2σ²
    assert sp.solve(sp.diff(N * D / 2 * sp.log(2 * sp.pi * s2) + S / (2 * s2), s2), s2) == [S / (N * D)]


def test_003g_cross_entropy():
    out = run("003g")
    assert "E = −log p = −Σ_k t_k log y_k" in out and "δ_j = ∂E/∂a_j = −t_j + y_j = y_j − t_j" in out


def test_003h_minibatch_gradient_is_proportional():
    out = run("003h")
    m = re.search(r"mean gradient is \[([^\]]+)\] and \(1/N\) Σ_n ∇E_n is \[([^\]]+)\]", out)
    a = np.array([float(v) for v in m.group(1).replace("…", "").split(",") if v.strip()])
    b = np.array([float(v) for v in m.group(2).replace("…", "").split(",") if v.strip()])
    assert np.allclose(a, b, atol=1e-6)


def forward_003():
    doc = netfile.read_toml(EX / "layered_003.toml")
    W1, b1 = np.array(doc["layer"][0]["weights"]), np.array(doc["layer"][0]["bias"])
    W2, b2 = np.array(doc["layer"][1]["weights"]), np.array(doc["layer"][1]["bias"])
    x, t = np.array(doc["sample"]["x"]), np.array(doc["sample"]["t"])
    z1 = np.tanh(W1 @ x + b1)
    a2 = W2 @ z1 + b2
    y = np.exp(a2) / np.exp(a2).sum()
    d2 = y - t
    d1 = (1 - z1**2) * (W2.T @ d2)
    return x, z1, y, t, d2, d1


def test_003i_softmax_delta_finished_where_the_seed_stops():
    out = run("003i")
    assert "δ_j^(L) = ∂E_n/∂a_j^(L) = y_j − t_j" in out
    assert "∂/∂a_j^(L) log Σ_k e^a_k^(L) = e^a_j^(L) / Σ_k e^a_k^(L) = y_j" in out
    assert "Seed 003's own answer to (i) stops before this" in out
    _, _, y, t, d2, d1 = forward_003()
    shown = matrices(out, "δ^(2) = [")[0].ravel()
    assert np.allclose(shown, d2, atol=1e-6) and np.allclose(matrices(out, "δ^(1) = [")[0].ravel(), d1, atol=1e-6)


def test_003j_backprop_rule_and_weight_gradients():
    out = run("003j")
    assert "δ_j^(l) = Σ_k ∂E_n/∂a_k^(l+1) · ∂a_k^(l+1)/∂a_j^(l) = h_l′(a_j^(l)) Σ_k w_kj^(l+1) δ_k^(l+1)" in out
    assert "∂E_n/∂w_ji^(l) = δ_j^(l) z_i^(l-1)" in out
    x, z1, _, _, d2, d1 = forward_003()
    g = matrices(out, "∂E_n/∂w^(")
    assert np.allclose(g[0], np.outer(d2, z1), atol=1e-6) and np.allclose(g[2], np.outer(d1, x), atol=1e-6)


def test_003k_regression_delta_is_y_minus_t():
    out = run("003k")
    assert "δ_j^(L) = ∂E_n/∂a_j^(L) = y_j − t_j" in out and "identity output with the quadratic loss" in out


def test_003l_batch_rules_correct_where_the_seed_is_wrong():
    out = run("003l")
    assert "∂E/∂w_ji^(l) = Σ_n δ_nj^(l) z_ni^(l-1)" in out
    assert "δ_nj^(l) = h_l′(a_nj^(l)) Σ_k w_kj^(l+1) δ_nk^(l+1)" in out
    assert "w_nkj" not in out and "gives the weights an index n" in out  # the seed's w_nkj, and Σ_n inside δ


def exam_json(key: str) -> dict:
    return json.loads(run(key, "--format", "json"))


z6, t, a4, k, w46, b6 = sp.symbols("z6 t a4 k w46 b6", real=True)  # JSON: a for every activity
SIGMA = sp.Function("sigma")


def parse(e: str) -> sp.Expr:
    return sp.sympify(e, locals={"sigma": SIGMA, **{s.name: s for s in (z6, t, a4, k, w46, b6)}})


def test_004a_output_delta_symbolic():
    r = exam_json("004a")
    assert r["value"] is None  # no numbers: the exam gives none
    assert sp.simplify(parse(r["expression"]) - 2 * (z6**2 - t) / z6**3) == 0  # the seed's (a)
    assert "δ6 = 2*(z6**2 - t)/z6**3" in run("004a")


def test_004bc_updates_with_a_symbolic_step():
    rb, rc = exam_json("004b"), exam_json("004c")
    assert sp.simplify(parse(rb["update"]) - (w46 - 2 * k * a4 * (z6**2 - t) / z6**3)) == 0
    assert sp.simplify(parse(rc["update"]) - (b6 - 2 * k * (z6**2 - t) / z6**3)) == 0
    assert "w46 ← w46 − k·∂L/∂w46" in run("004b")


def test_004d_hidden_delta_matches_the_seed():
    r = exam_json("004d")
    e = parse(r["expression"]).replace(SIGMA, lambda v: 1 / (1 + sp.exp(-v)))
    s = {n: sp.Symbol(n, real=True) for n in ("z3", "z4", "z5", "w34", "w35", "w36", "w56")}
    sp_ = lambda v: sp.exp(-v) / (1 + sp.exp(-v)) ** 2  # noqa: E731  σ′, written independently
    seed = 2 * (z6**2 - t) / z6**3 * sp_(s["z3"]) * (s["w36"] + s["w34"] * w46 * sp_(s["z4"])
                                                     + s["w35"] * s["w56"] * sp_(s["z5"]))
    names = sorted({v.name for v in e.free_symbols | seed.free_symbols})
    at = {n: 0.1 * (i + 2) for i, n in enumerate(names)}
    value = lambda f: float(f.subs({v: at[v.name] for v in f.free_symbols}))  # noqa: E731
    assert value(e) == pytest.approx(value(seed), rel=1e-12)


@pytest.mark.parametrize("key", sorted(CMDS))
def test_latex_takes_any_engine(key):
    """The LaTeX of every answer is plain ASCII (pdflatex takes it): prose escaped, Unicode written as LaTeX."""
    out = run(key, "--format", "latex")
    assert out.isascii(), sorted({c for c in out if not c.isascii()})
    assert "^(" not in re.sub(r"\\\[.*?\\\]|\$[^$]*\$", "", out, flags=re.S)  # no ^ left in text mode


def test_symbolic_also_with_a_sample():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["derive", str(EX / "exam_004.toml"), "--wrt", "w46", "--symbolic", "--format", "json"]) == 0
    r = json.loads(out.getvalue())
    assert r["value"] is None and r["symbols"] == {}
    assert sp.simplify(parse(r["expression"]) - 2 * a4 * (z6**2 - t) / z6**3) == 0


@pytest.mark.parametrize("argv, words", [
    (["derive", "--layers", "2-x-1"], "--layers must be sizes"),
    (["derive", "--layers", "2-0-1"], "--layers needs"),
    (["derive", str(EX / "exam_004.toml"), "--wrt", "w46", "--lr", "__import__('os')"], "--lr must be"),
    (["derive", str(EX / "exam_004.toml"), "--wrt", "w46", "--lr", "nan"], "--lr must be"),
    (["derive", str(EX / "exam_004_symbolic.toml"), "--wrt", "w46"], "--symbolic"),
    (["derive", str(EX / "layered_003.toml"), "--wrt", "w46"], "--wrt is for neuron graphs"),
    (["derive", str(EX / "layered_003.toml"), "--part", "bogus"], "invalid choice"),
    (["derive", "--layers", "2-3-1", str(EX / "layered_003.toml")], "not both"),
])
def test_bad_input_is_one_line(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


def test_003l_with_a_batch_in_numbers(tmp_path):
    rng = np.random.default_rng(0)
    X, T = rng.standard_normal((4, 2)), np.eye(3)[[0, 2, 1, 1]]
    np.savez(tmp_path / "b.npz", X=X, T=T)
    out = run("003l", "--data", str(tmp_path / "b.npz"))
    assert "For the batch of N = 4" in out and "∂E/∂w^(2) = Δ Zᵀ" in out
    net = netfile.from_dict(netfile.read_toml(EX / "layered_003.toml"))
    fd = fd_grads(net, X, T)  # E = Σ_n E_n (reduction "sum")
    shown = matrices(out, "∂E/∂w^(")
    assert np.allclose(shown[0], fd[2], atol=2e-6) and np.allclose(shown[2], fd[0], atol=2e-6)
    assert np.allclose(shown[1].ravel(), fd[3], atol=2e-6)
