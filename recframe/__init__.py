"""recframe: a PyTorch Lightning research framework for recommender systems.

Every model is a backbone that maps a user context to a query vector ψ and exposes item vectors W;
scores over the whole catalogue are ``ψ · Wᵀ``. See ``docs/`` and ``python -m recframe --help``.
"""

__version__ = "0.1.0"
