"""``prove``: exact verification of an alignment on a ReLU MLP over a finite input domain.

* :mod:`~causalabs.verification.prove.proof` -- :func:`prove` and :class:`ProofResult`: per set, exact
  enumeration or z3, whichever is estimated cheaper;
* :mod:`~causalabs.verification.prove.graph` -- the module's ``torch.fx`` graph as one chain of steps;
* :mod:`~causalabs.verification.prove.relu_z3` -- the network's layers as exact z3 terms;
* :mod:`~causalabs.verification.prove.query` -- the z3 formula of one intervened set;
* :mod:`~causalabs.verification.prove.inputs` -- input encodings as exact rationals;
* :mod:`~causalabs.verification.prove.sites` -- interventions at sites, exact vectors, sources tabulated exactly;
* :mod:`~causalabs.verification.prove.enumerate` -- exact enumeration when only affine layers follow the sites;
* :mod:`~causalabs.verification.prove.product` -- exact enumeration of every combination, any layers after the sites;
* :mod:`~causalabs.verification.prove.watch` -- the call's timeout and its progress line.
"""

from causalabs.verification.prove.proof import (
    InputEncoding,
    ProofResult,
    UnsupportedNetworkError,
    bits_encoding,
    one_hot_encoding,
    probe_encoding,
    prove,
)

__all__ = [
    "InputEncoding",
    "ProofResult",
    "UnsupportedNetworkError",
    "bits_encoding",
    "one_hot_encoding",
    "probe_encoding",
    "prove",
]
