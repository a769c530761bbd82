"""Batched interchange interventions over counterfactual datasets (backend-agnostic)."""

from causalabs.engine.evaluate import PairResults, evaluate_pairs
from causalabs.engine.interchange import interchange_network

__all__ = ["PairResults", "evaluate_pairs", "interchange_network"]
