"""The maths: the layered and neuron-graph engines, activations, losses, formulas, and the kernels seam."""
