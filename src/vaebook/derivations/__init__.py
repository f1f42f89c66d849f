"""SymPy derivations the chapters show: each function builds an expression by integration or algebra,
so the notebooks, the tests and the book share one source. Import from the submodules, e.g.
``from vaebook.derivations.kl import kl_gaussians_1d``.
"""
