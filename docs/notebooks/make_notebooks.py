"""Writes the site's notebooks (without outputs; the site's build and the tests execute them).

    python docs/notebooks/make_notebooks.py

Edit the cells here and rerun, or edit the .ipynb files in Jupyter (then this script is out of date: delete it).
"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent


def notebook(cells):
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbf.v4.new_code_cell(c.strip())
                for c in cells]
    return nb


EXAM_AND_SPIRAL = [
    """md:# Seed 004's exam and the spiral, in a notebook

What a student sees in Jupyter: the exam's network drawn with every z, a and δ at its sample, the four parts
of the question as worked solutions, then a network trained on the spiral set with a progress bar and its
learning curves, and matplotlib's own `plt.show()` still working afterwards.""",
    """
%matplotlib inline
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import deltaprop as dp
""",
    """md:## The exam's network

`dp.example("exam_004")` is the bundled file (`deltaprop examples` lists them). A network read from a file
with a `[sample]` shows itself after forward and backward on it.""",
    """
net = dp.load_network(dp.example("exam_004"))
net
""",
    """md:`dp.trace` gives every number of the forward and backward pass as tables (those of `deltaprop trace`);
with `lr` = k each weight and bias after one step.""",
    """
dp.trace(net, lr=0.1)
""",
    """md:`net.draw(X, T)` draws it for any batch (values of the first sample; `grads=False` leaves out δ and
∂C/∂w); `.save("exam.png")` writes PNG, PDF or SVG.""",
    """
x, t = net.sample
net.draw(x, t)
""",
    """md:## (a) ∂L/∂z₆

`dp.derive` gives a derivation; Jupyter renders it as the worked solution.""",
    """
dp.derive(net, x, t, "z6")
""",
    """md:## (b), (c) the updates of w₄₆ and b₆ with step k""",
    """
k = 0.1
d_w46 = dp.derive(net, x, t, "w46")
d_b6 = dp.derive(net, x, t, "b6")
w46 = net.w[net.edges.index(("4", "6"))]
b6 = net.b[net.neurons.index("6")]
print(f"w46 ← {w46:.6g} − {k}·{d_w46.value:.6g} = {w46 - k * d_w46.value:.6g}")
print(f"b6  ← {b6:.6g} − {k}·{d_b6.value:.6g} = {b6 - k * d_b6.value:.6g}")
d_w46
""",
    """md:## (d) ∂L/∂z₃""",
    """
dp.derive(net, x, t, "z3")
""",
    """md:Backpropagation against the complex step, for every weight and bias:""",
    """
dp.gradcheck(net, x, t)
""",
    """md:## Training on the spiral set

`dp.fit` shows a progress bar (`verbose=False` for none). The spiral's recipe (32×32 tanh units, Adam at
0.003, 500 epochs) takes a couple of seconds.""",
    """
run = dp.fit("spiral", seed=0)
""",
    """
run
""",
    """
run.plot()
""",
    """md:## matplotlib is left as it was

deltaprop draws its figures with matplotlib's object API and never changes the backend, so pyplot still
shows figures inline:""",
    """
print("backend:", matplotlib.get_backend())
ds = dp.load_data("spiral")
plt.figure(figsize=(4, 4))
plt.scatter(ds.X[:, 0], ds.X[:, 1], c=ds.T.argmax(axis=1), cmap="RdBu", s=10, edgecolors="k", linewidths=0.3)
plt.title("the spiral set")
plt.show()
""",
]

LAB = [
    """md:# The 02456 lab on deltaprop: forward, losses from likelihood, backprop, SGD

Seed 003 (DTU 02456, exercise 1) in Bishop's notation: for layer l, the weighted input is
a⁽ˡ⁾ = W⁽ˡ⁾ z⁽ˡ⁻¹⁾ + b⁽ˡ⁾ and the activation z⁽ˡ⁾ = h_l(a⁽ˡ⁾), with z⁽⁰⁾ = x. deltaprop's own names are the
other way round (z weighted input, a activation, as Nielsen); this notebook says which is which at each step.""",
    """
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import deltaprop as dp
""",
    """md:## Forward (exercises a–c)

The bundled `layered_003` is the exercise's D = 2, M = 3 (tanh), K = 3 (softmax) network. First by hand with
NumPy, then deltaprop's forward pass.""",
    """
net = dp.load_network(dp.example("layered_003"))
x, t = net.sample
W1, b1, W2, b2 = net.W[0], net.b[0], net.W[1], net.b[1]

a1 = W1 @ x[0] + b1            # Bishop's a⁽¹⁾: weighted inputs of the hidden units
z1 = np.tanh(a1)               # z⁽¹⁾ = h₁(a⁽¹⁾)
a2 = W2 @ z1 + b2              # a⁽²⁾
y = np.exp(a2) / np.exp(a2).sum()   # softmax
trace = net.forward(x)         # deltaprop: trace.z[l] weighted inputs, trace.a[l] activations
print("by hand:  ", y)
print("deltaprop:", trace.a[-1][0])
assert np.allclose(y, trace.a[-1][0])
""",
    """
net
""",
    """md:## Losses from the likelihood (exercises e, g)

The negative log-likelihood of a Gaussian is the sum of squares; of a categorical distribution, the
cross-entropy. Each derivation is checked by SymPy when it is made.""",
    """
dp.likelihood("gaussian")
""",
    """
dp.likelihood("categorical")
""",
    """md:## Backpropagation (exercises i, j)

With softmax and cross-entropy the output δ is y − t (exercise i); one layer down,
δ⁽¹⁾ = h₁′(a⁽¹⁾) ⊙ W⁽²⁾ᵀ δ⁽²⁾ with h₁′ = 1 − tanh² (exercise j); ∂E/∂W⁽ˡ⁾ = δ⁽ˡ⁾ z⁽ˡ⁻¹⁾ᵀ.""",
    """
d2 = y - t[0]
d1 = (1 - z1**2) * (W2.T @ d2)
g = net.loss_and_grads(x, t)
print("δ⁽²⁾", d2, "\\ndeltaprop", g.delta[1][0])
print("δ⁽¹⁾", d1, "\\ndeltaprop", g.delta[0][0])
assert np.allclose(np.outer(d2, z1), g.W[1]) and np.allclose(np.outer(d1, x[0]), g.W[0])
dp.gradcheck(net, x, t)     # and against the complex step
""",
    """md:## Stochastic gradient descent (exercises h, l)

Mini-batches of the XOR set: on a batch of N samples, δ is per sample and the gradient is the mean over
them (deltaprop's default reduction), w ← w − η ∂C/∂w.""",
    """
ds = dp.load_data("xor")
X, T = (ds.X - ds.X.mean(0)) / ds.X.std(0), ds.T
model = dp.Network([2, 8, 2], "tanh", "cross_entropy", output="softmax", seed=0)
rng, eta, losses = np.random.default_rng(0), 0.1, []
for epoch in range(30):
    order = rng.permutation(len(X))
    for start in range(0, len(X), 16):
        idx = order[start:start + 16]
        g = model.loss_and_grads(X[idx], T[idx])
        for p, dp_ in zip(model.params(), g.params()):
            p -= eta * dp_
    losses.append(model.cost(X, T))
plt.plot(losses)
plt.xlabel("epoch"); plt.ylabel("mean cross-entropy"); plt.title("SGD by hand on XOR")
plt.show()
accuracy = (model.predict(X).argmax(1) == T.argmax(1)).mean()
print(f"training accuracy {accuracy:.1%}")
""",
    """md:The same with `dp.fit` (Adam, early stopping, a held-out test split):""",
    """
run = dp.fit("xor", hidden=[8], activation="tanh", epochs=30, seed=0)
run
""",
]


if __name__ == "__main__":
    nbf.write(notebook(EXAM_AND_SPIRAL), HERE / "exam_and_spiral.ipynb")
    nbf.write(notebook(LAB), HERE / "lab_02456.ipynb")
