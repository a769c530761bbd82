"""``prove``: exact verification of an alignment on a ReLU MLP over a finite input domain.

* :mod:`~causalabs.verification.prove.proof` -- :func:`prove` and :class:`ProofResult`: the claim in z3, or
  exact enumeration when cheaper;
* :mod:`~causalabs.verification.prove.relu_z3` -- the network's layers as exact z3 terms;
* :mod:`~causalabs.verification.prove.inputs` -- input encodings as exact rationals;
* :mod:`~causalabs.verification.prove.sites` -- interventions at sites, sources tabulated exactly;
* :mod:`~causalabs.verification.prove.enumerate` -- exact enumeration when only affine layers follow the sites.
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
