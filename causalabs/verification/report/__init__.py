"""The verdict as a value: :class:`Report`, its :class:`Counterexample`, provenance, renderings, JSON.

* :mod:`~causalabs.verification.report.report` -- :class:`Report` and :class:`VariableEvidence` (versioned JSON);
* :mod:`~causalabs.verification.report.counterexample` -- one interchange where network and hypothesis disagree;
* :mod:`~causalabs.verification.report.provenance` -- versions, device, seed and digests of what was checked;
* :mod:`~causalabs.verification.report.render` -- text, Markdown and LaTeX;
* :mod:`~causalabs.verification.report.io` -- a report read back from its JSON, schema checked.
"""

from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.report.report import SCHEMA, VERDICTS, Report, VariableEvidence

__all__ = ["SCHEMA", "VERDICTS", "Counterexample", "Report", "VariableEvidence"]
