"""The playground's server, without a browser: every number it serves checked against an oracle that is
not the code that made it (central differences of the loss, the CLI's own output, the public API)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
import warnings  # noqa: E402

with warnings.catch_warnings():  # newer Starlette prefers httpx2 for its test client; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

import deltaprop as dp  # noqa: E402
from deltaprop.view.playground import data2d  # noqa: E402
from deltaprop.view.playground.server import create_app  # noqa: E402
from deltaprop.view.playground.session import TrainSession  # noqa: E402
from deltaprop.view.playground.state import dump_toml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAM = ROOT / "examples" / "exam_004.toml"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deltaprop", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


@pytest.fixture()
def client():
    with TestClient(create_app(str(EXAM))) as c:
        yield c


def test_state_is_the_cli_trace(client):
    view = client.get("/api/state").json()
    trace = json.loads(cli("trace", str(EXAM), "--json").stdout)
    assert view["report"]["neurons"].keys() == trace["neurons"].keys()
    for j, n in trace["neurons"].items():
        for q in ("z", "a", "sigma_prime", "delta"):
            assert view["report"]["neurons"][j][q] == pytest.approx(n[q], rel=1e-12, abs=1e-15)
    for k, w in trace["weights"].items():
        assert view["report"]["weights"][k]["grad"] == pytest.approx(w["grad"], rel=1e-12, abs=1e-15)
    assert view["report"]["loss"] == pytest.approx(trace["loss"], rel=1e-12)


def test_weight_gradients_are_central_differences_of_the_served_loss(client):
    """∂L/∂w on the page against (L(w + h) − L(w − h)) / 2h, both losses read from the page after edits."""
    view = client.get("/api/state").json()
    h = 1e-6
    for key, w in view["report"]["weights"].items():
        i, j = w["from"], w["to"]
        losses = []
        for sign in (+1, -1):
            r = client.post("/api/edit", json={"field": "weight", "key": [i, j], "value": repr(w["value"] + sign * h)})
            assert r.status_code == 200
            losses.append(r.json()["report"]["loss"])
        client.post("/api/edit", json={"field": "weight", "key": [i, j], "value": repr(w["value"])})
        assert w["grad"] == pytest.approx((losses[0] - losses[1]) / (2 * h), rel=1e-5, abs=1e-9), key


def test_editing_w46_changes_delta3_to_the_engines_value(client):
    r = client.post("/api/edit", json={"field": "weight", "key": ["4", "6"], "value": "-0.25"})
    assert r.status_code == 200
    f = dp.read_network(EXAM)
    net, (X, T) = f.network, f.sample
    net.w[net.edges.index(("4", "6"))] = -0.25  # the level matrices are views of w
    delta3 = net.loss_and_grads(X, T).delta[net.index["3"], 0]
    assert r.json()["report"]["neurons"]["3"]["delta"] == pytest.approx(float(delta3), rel=1e-12)
    assert r.json()["report"]["neurons"]["3"]["delta"] != pytest.approx(
        client.post("/api/reset").json()["report"]["neurons"]["3"]["delta"])


def test_bad_formula_is_the_cli_error_and_changes_nothing(client, tmp_path):
    before = client.get("/api/state").json()
    r = client.post("/api/edit", json={"field": "activation", "key": "6", "value": "z**"})
    assert r.json().get("error")
    bad = tmp_path / "exam_004.toml"
    bad.write_text(EXAM.read_text().replace('activation = "z**2"', 'activation = "z**"'))
    out = cli("trace", str(bad))
    assert out.returncode == 2
    cli_msg = out.stderr.strip().removeprefix("deltaprop: error: ").replace(str(bad), str(EXAM))
    assert r.json()["error"] == cli_msg
    assert client.get("/api/state").json() == before
    for value in ("nan", "inf", "-Infinity", "1e400", "two"):
        r = client.post("/api/edit", json={"field": "bias", "key": "6", "value": value})
        assert r.json().get("error") and "b6" in r.json()["error"], value
    r = client.post("/api/edit", json={"field": "loss", "value": "t/a - log(t/"})
    assert r.json().get("error") and "loss" in r.json()["error"]
    assert client.get("/api/state").json() == before


def test_loss_formula_of_ones_own(client):
    r = client.post("/api/edit", json={"field": "loss", "value": "(a - t)**4"})
    assert r.status_code == 200
    view = r.json()
    a6, t = view["report"]["neurons"]["6"]["a"], view["t"]["6"]
    assert view["report"]["loss"] == pytest.approx((a6 - t) ** 4, rel=1e-12)
    assert view["report"]["neurons"]["6"]["dL_da"] == pytest.approx(4 * (a6 - t) ** 3, rel=1e-10)


def test_malformed_and_oversize_requests(client):
    assert client.post("/api/edit", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/api/edit", json=[1, 2]).status_code == 400
    assert client.post("/api/edit", json={"field": "colour", "value": "1"}).json().get("error")
    assert client.post("/api/edit", json={"field": "weight", "key": ["1", "6"], "value": "1"}).json().get("error")
    assert client.post("/api/edit", json={"field": "weight", "key": "w46", "value": "1"}).json().get("error")
    big = b'{"text": "' + b"#" * (18 * 2**20) + b'"}'
    assert client.post("/api/open", content=big, headers={"content-type": "application/json"}).status_code == 413
    assert client.post("/api/open", json={"text": "inputs = [", "name": "x.toml"}).json().get("error")
    assert "invalid TOML" in client.post("/api/open", json={"text": "inputs = [", "name": "x.toml"}).json()["error"]
    assert client.get("/api/state").status_code == 200  # still serving


def test_download_read_back_by_the_cli_gives_the_same_trace(client, tmp_path):
    client.post("/api/edit", json={"field": "weight", "key": ["3", "6"], "value": "1.1"})
    client.post("/api/edit", json={"field": "x", "key": "1", "value": "0.25"})
    view = client.get("/api/state").json()
    r = client.get("/api/download")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    path = tmp_path / "down.toml"
    path.write_text(r.text)
    trace = json.loads(cli("trace", str(path), "--json").stdout)
    for j, n in trace["neurons"].items():
        assert view["report"]["neurons"][j]["delta"] == pytest.approx(n["delta"], rel=1e-14, abs=1e-16)
    assert trace["weights"]["3->6"]["value"] == 1.1
    assert trace["inputs"]["1"]["x"] == 0.25


def test_derivation_is_the_cli_markdown(client):
    r = client.post("/api/derive", json={"kind": "w", "key": ["4", "6"], "lr": "0.1", "notation": "exam"})
    assert r.status_code == 200
    out = cli("derive", str(EXAM), "--wrt", "w46", "--format", "markdown", "--notation", "exam", "--expanded",
              "--lr", "0.1")
    assert r.json()["markdown"] == out.stdout.rstrip("\n")
    r = client.post("/api/derive", json={"kind": "z", "key": "99"})
    assert r.json().get("error")


def test_apply_update_is_w_minus_eta_grad(client):
    before = client.get("/api/state").json()["report"]
    r = client.post("/api/update", json={"lr": "0.05"})
    assert r.status_code == 200
    after = r.json()["view"]["report"]
    for k, w in before["weights"].items():
        assert after["weights"][k]["value"] == pytest.approx(w["value"] - 0.05 * w["grad"], rel=1e-14)
    for j, b in before["biases"].items():
        assert after["biases"][j]["value"] == pytest.approx(b["value"] - 0.05 * b["grad"], rel=1e-14)
    assert after["loss"] < before["loss"]  # a small step down the gradient lowers this loss
    assert client.post("/api/update", json={"lr": "-1"}).json().get("error")


def test_layered_elementwise_file_is_drawn_as_a_neuron_graph(client):
    text = (ROOT / "examples" / "layered_2-3-2.toml").read_text()
    text = text.replace('activation = "softmax"', 'activation = "sigmoid"').replace('name = "cross_entropy"', 'name = "quadratic"')
    r = client.post("/api/open", json={"text": text, "name": "sig.toml"})
    view = r.json()
    assert not view["layered"]
    net = dp.load_network(_write(text))
    doc = tomllib.loads(text)
    g = net.loss_and_grads(np.array([doc["sample"]["x"]]), np.array([doc["sample"]["t"]]))
    served = [view["report"]["weights"][f"A{k + 1}->o{j + 1}"]["grad"] for j in range(2) for k in range(4)]
    np.testing.assert_allclose(served, g.W[1].ravel(), rtol=1e-12)
    assert "markdown" in client.post("/api/derive", json={"kind": "w", "key": ["A1", "o1"]}).json()


def test_softmax_layered_file_is_the_cli_layered_trace(client, tmp_path):
    """seed 003's network (softmax + cross-entropy, summed): every number against `deltaprop trace --json`, the
    weight gradients against central differences of the served loss, and the downloaded file traced again."""
    path = ROOT / "examples" / "layered_003.toml"
    view = client.post("/api/open", json={"text": path.read_text(), "name": "layered_003.toml"}).json()
    assert view["layered"] and view["ids"] == ["x1", "x2", "A1", "A2", "A3", "o1", "o2", "o3"]
    trace = json.loads(cli("trace", str(path), "--json").stdout)
    rep = view["report"]
    for l, (prefix, layer) in enumerate(zip("Ao", trace["layers"])):
        for j in range(len(layer["z"][0])):
            n = rep["neurons"][f"{prefix}{j + 1}"]
            assert (n["z"], n["a"], n["delta"]) == pytest.approx((layer["z"][0][j], layer["a"][0][j], layer["delta"][0][j]), rel=1e-12)
            assert rep["biases"][f"{prefix}{j + 1}"]["grad"] == pytest.approx(layer["grad_bias"][j], rel=1e-12)
            src = ["x1", "x2"] if l == 0 else ["A1", "A2", "A3"]
            for k, i in enumerate(src):
                assert rep["weights"][f"{i}->{prefix}{j + 1}"]["grad"] == pytest.approx(layer["grad_weights"][j][k], rel=1e-12)
    assert rep["neurons"]["o1"]["sigma_prime"] is None and rep["neurons"]["o1"]["coupled"]
    assert rep["loss"] == pytest.approx(trace["loss"], rel=1e-12)
    h = 1e-6
    for key in ("A2->o3", "x1->A1"):
        w = rep["weights"][key]
        up = client.post("/api/edit", json={"field": "weight", "key": [w["from"], w["to"]], "value": repr(w["value"] + h)}).json()
        down = client.post("/api/edit", json={"field": "weight", "key": [w["from"], w["to"]], "value": repr(w["value"] - h)}).json()
        assert w["grad"] == pytest.approx((up["report"]["loss"] - down["report"]["loss"]) / (2 * h), rel=1e-5)
    client.post("/api/edit", json={"field": "bias", "key": "o2", "value": "0.25"})
    view = client.get("/api/state").json()
    down = tmp_path / "down.toml"
    down.write_text(client.get("/api/download").text)
    again = json.loads(cli("trace", str(down), "--json").stdout)
    assert again["layers"][1]["delta"][0] == pytest.approx([view["report"]["neurons"][f"o{j}"]["delta"] for j in (1, 2, 3)], rel=1e-13)
    assert "couples" in client.post("/api/derive", json={"kind": "z", "key": "o1"}).json()["error"]


def _write(text: str) -> Path:
    import tempfile

    f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    f.write(text)
    f.close()
    return Path(f.name)


def test_websocket_training_and_bad_messages(client):
    with client.websocket_connect("/ws/train") as ws:
        ws.send_text("not json")
        assert ws.receive_json() == {"type": "error", "message": "the message is not valid JSON"}
        ws.send_json({"cmd": "config", "config": {"dataset": "xor", "lr": "-1"}})
        assert "learning rate" in ws.receive_json()["message"]
        ws.send_json({"cmd": "config", "config": {"dataset": "xor", "hidden": [4], "seed": 1}})
        data = ws.receive_json()
        assert data["type"] == "data" and data["sizes"] == [2, 4, 1]
        frame = ws.receive_json()
        assert frame["type"] == "frame" and len(frame["heatmap"]) == 50 * 50 and frame["epoch"] == 0
        assert ws.receive_json() == {"type": "state", "playing": False}
        ws.send_json({"cmd": "step"})
        frame = ws.receive_json()
        assert frame["epoch"] == 1 and len(frame["mean_delta"]) == 2 and len(frame["neuron_delta"][0]) == 4
        ws.receive_json()
        ws.send_json({"cmd": "hover", "neuron": [0, 2]})
        assert len(ws.receive_json()["hover_heatmap"]) == 2500
        ws.send_json({"cmd": "fly"})
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"cmd": "csv", "text": "x1,x2,y\n1,2\n"})
        assert "row 2" in ws.receive_json()["message"]  # the CSV reader's own message, the path hidden
        rows = "\n".join(f"{x:.2f},{y:.2f},{x + y:.3f}" for x, y in np.random.default_rng(1).uniform(-3, 3, (30, 2)))
        ws.send_json({"cmd": "csv", "text": "x1,x2,y\n" + rows})
        data = ws.receive_json()
        assert data["task"] == "regression" and len(data["train"]) + len(data["test"]) == 30
        ws.receive_json(), ws.receive_json()
        ws.send_json({"cmd": "step"})  # one epoch: 15 training points in batches of 10, the last one of 5
        assert ws.receive_json()["epoch"] == 1
        ws.receive_json()
        ws.send_json({"cmd": "inspect"})
        assert ws.receive_json() == {"type": "state", "playing": False}
        assert ws.receive_json() == {"type": "inspect_ready"}
    view = client.get("/api/state").json()
    assert view["inputs"] == ["x1", "x2"] and view["outputs"] == ["o1"] and view["samples"] == 5


def test_training_xor_learns():
    """xor with the page's defaults (features x1, x2; hidden 4, 2 tanh; SGD η = 0.03, batches of 10): test
    loss (binary cross-entropy) below 0.15 within 150 epochs, from above 0.5 before training."""
    s = TrainSession({"dataset": "xor"})
    first = s.history["test"][-1]
    for _ in range(150):
        s.run_epoch()
    assert first > 0.5 and s.history["test"][-1] < 0.15


def test_regression_plane_and_csv():
    P, t = data2d.plane(seed=0)
    np.testing.assert_allclose(t, (P[:, 0] + P[:, 1]) / 12)
    s = TrainSession({"dataset": "plane", "hidden": [2], "lr": 0.01})
    assert s.task == "regression" and s.net.activations[-1].name == "identity"
    rows = "\n".join(f"{x:.3f},{y:.3f},{'red' if x * y > 0 else 'blue'}" for x, y in np.random.default_rng(0).uniform(-4, 4, (40, 2)))
    P, y, task = data2d.from_csv("x1,x2,label\n" + rows)
    assert task == "classification" and P.shape == (40, 2) and set(np.unique(y)) == {0.0, 1.0}
    with pytest.raises(dp.DeltapropError, match="two input columns"):
        data2d.from_csv("a,b,c,label\n1,2,3,0\n1,2,3,1\n1,2,3,0\n1,2,3,1")


def test_toml_writer_round_trips_awkward_ids():
    doc = {"inputs": ["x 1", 'q"'], "neurons": {"h-1": {"weights": {"x 1": 0.1, 'q"': -2e-7}, "bias": 1.0}},
           "loss": {"formula": "(a - t)**2"}, "sample": {"x": {"x 1": 1.0, 'q"': 2.0}, "t": {"h-1": 0.5}}}
    assert tomllib.loads(dump_toml(doc)) == doc


def test_cli_refuses_bad_files_and_ports(tmp_path):
    out = cli("playground", str(tmp_path / "missing.toml"), "--no-browser")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "missing.toml" in out.stderr
    out = cli("playground", "--port", "70000", "--no-browser")
    assert out.returncode == 2 and "--port" in out.stderr


def test_oversize_network_is_refused_and_the_server_keeps_serving(client):
    doc = {"inputs": ["x"], "neurons": {f"n{k}": {"weights": {"x": 0.1}, "bias": 0.0} for k in range(400)}}
    r = client.post("/api/open", json={"text": dump_toml(doc), "name": "big.toml"})
    assert "too many to draw" in r.json()["error"]
    layered = "inputs = 784\n[[layer]]\nsize = 1000\n[[layer]]\nsize = 10\n"
    assert "too many to draw" in client.post("/api/open", json={"text": layered, "name": "mnist.toml"}).json()["error"]
    assert client.get("/api/state").json()["source"] == str(EXAM)


def test_closing_the_tab_while_training_leaves_the_server_running(client):
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"cmd": "config", "config": {"dataset": "spiral"}})
        for _ in range(3):
            ws.receive_json()
        ws.send_json({"cmd": "play"})
        assert ws.receive_json() == {"type": "state", "playing": True}
        assert ws.receive_json()["type"] == "frame"
    # the tab is gone mid-training; a new one trains from scratch and the inspect API still answers
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"cmd": "config", "config": {"dataset": "circle"}})
        assert ws.receive_json()["config"]["dataset"] == "circle"
    assert client.get("/api/state").status_code == 200
