"""PyTorch autograd as an independent oracle for the layered engine (float64)."""

import numpy as np
import torch
import torch.nn.functional as F

ACT = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "softplus": F.softplus,
    "square": lambda z: z * z,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def loss_per_sample(name, a, t, sigma2=1.0):
    if name == "quadratic":
        return 0.5 * ((a - t) ** 2).sum(1)
    if name == "gaussian_nll":
        D = a.shape[1]
        return 0.5 * D * np.log(2 * np.pi * sigma2) + ((a - t) ** 2).sum(1) / (2 * sigma2)
    if name == "cross_entropy":
        return -(t * torch.log(a)).sum(1)
    if name == "binary_cross_entropy":
        return -(t * torch.log(a) + (1 - t) * torch.log(1 - a)).sum(1)
    if name == "itakura_saito":
        return (t / a - torch.log(t / a) - 1).sum(1)
    raise KeyError(name)


def grads(Ws, bs, acts, loss, X, T, reduction="mean", sigma2=1.0):
    """(cost, [dW], [db], dX) by autograd in float64."""
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in Ws]
    bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in bs]
    Xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    a = Xt
    for W, b, g in zip(Ws, bs, acts):
        a = ACT[g](a @ W.T + b)
    c = loss_per_sample(loss, a, torch.tensor(T, dtype=torch.float64), sigma2)
    C = c.mean() if reduction == "mean" else c.sum()
    C.backward()
    return C.item(), [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs], Xt.grad.numpy()
