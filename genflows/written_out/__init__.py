"""Chain terms with their gradient in the chain's variable written out, for Langevin chains whose
weights stay fixed: no autograd graph per step. Each is checked against autograd in the tests and
returns None where it cannot serve (then the chain takes autograd on that term alone)."""
