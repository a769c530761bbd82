"""Networks under study: ``Network`` (module + encode + decode), sites, featurizers, alignments."""

from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Featurizer, Rotation, random_rotation
from causalabs.network.network import (
    Decoded,
    Network,
    argmax_decoder,
    encode,
    load_network,
    predict,
)
from causalabs.network.sites import ALL, Site, Subspace, check_disjoint, resolve_module, site

__all__ = [
    "ALL",
    "Alignment",
    "Decoded",
    "Featurizer",
    "Network",
    "Rotation",
    "Site",
    "Subspace",
    "argmax_decoder",
    "check_disjoint",
    "encode",
    "load_network",
    "predict",
    "random_rotation",
    "resolve_module",
    "site",
]
