"""Counterfactual datasets: seeded (base, sources, intervened, expected) arrays with a digest."""
