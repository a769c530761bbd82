"""The error tree of causalabs.

Every error raised on purpose by causalabs derives from :class:`CausalabsError`
and also from the builtin that fits it (``ValueError``, ``KeyError``,
``TypeError``), so ``except ValueError`` keeps working for callers that do not
know causalabs.  Messages name the thing at fault: the class, the variable,
the site or the file.
"""

from __future__ import annotations


class CausalabsError(Exception):
    """Root of every error causalabs raises on purpose."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


# --- hypotheses -----------------------------------------------------------


class HypothesisDefinitionError(CausalabsError, TypeError):
    """A hypothesis class is malformed; raised when the class is defined."""


class CycleError(HypothesisDefinitionError, ValueError):
    """The variables of a hypothesis depend on each other in a cycle."""


class UnknownSymbolError(HypothesisDefinitionError, NameError):
    """A mechanism uses a symbol that is not a variable of its hypothesis."""


class DomainDefinitionError(HypothesisDefinitionError, ValueError):
    """A domain is empty, infinite where it must be finite, or not made of integers."""


class MechanismRangeError(HypothesisDefinitionError, ValueError):
    """A mechanism produces a value outside its variable's declared domain."""


class UnreachableOutputError(HypothesisDefinitionError, ValueError):
    """An output variable does not depend on any input variable."""


class EmptyInputSpaceError(DomainDefinitionError):
    """A hypothesis' input requirements (``ca.require``) leave no input at all."""


class UnknownVariableError(CausalabsError, KeyError):
    """A variable name that the hypothesis does not have."""


class ValueOutOfDomainError(CausalabsError, ValueError):
    """A value given for a variable lies outside that variable's domain."""


class InadmissibleInputError(ValueOutOfDomainError):
    """An input row violates a requirement of its hypothesis (``ca.require``), where only admissible inputs may be drawn."""


class BatchShapeError(CausalabsError, ValueError):
    """Arrays of one batch disagree in length, or a column is missing."""


class DomainTooLargeError(CausalabsError, ValueError):
    """An enumeration was asked for on a domain too large to enumerate."""


# --- data -------------------------------------------------------------------


class DatasetError(CausalabsError, ValueError):
    """A counterfactual dataset cannot be built as asked."""


# --- symbolic reasoning -----------------------------------------------------


class UnsupportedMechanismError(CausalabsError, TypeError):
    """A mechanism cannot be translated (for example a Python callable given to z3)."""


# --- networks, sites and the engine ----------------------------------------


class NetworkError(CausalabsError, ValueError):
    """A network file or a network's encode/decode misbehaves."""


class MetricError(NetworkError, TypeError):
    """An LM metric (``--metric logit-diff|prob``) asked of a network whose decode() gives no logits."""


class NetworkFileError(NetworkError, FileNotFoundError):
    """A network file is missing, or has no usable ``load()``."""


class SiteError(CausalabsError, ValueError):
    """A site is malformed: bad module path, position, subspace or featurizer."""


class UnknownModuleError(SiteError, KeyError):
    """A site names a module path that the network does not have."""


class OverlappingSubspaceError(SiteError):
    """Two interventions on one module claim the same coordinates."""


class ActivationError(CausalabsError, ValueError):
    """An activation recorded at a site is unusable (NaN, wrong shape)."""


class BackendError(CausalabsError, ValueError):
    """An unknown backend, or one that cannot express the requested intervention."""


class AlignmentError(CausalabsError, ValueError):
    """An alignment does not fit its hypothesis or network."""


# --- verdicts ---------------------------------------------------------------


class Refutation(CausalabsError, AssertionError):
    """A causal-abstraction claim was refuted; the message holds the counterexample."""


class LoadError(CausalabsError, ValueError):
    """A ``path/file.py:Name`` reference could not be loaded."""


class OrganismError(NetworkError):
    """A network file in an organism folder lacks organism metadata, or its metadata is malformed."""


class EstimateError(CausalabsError, ValueError):
    """An estimate was asked for impossible counts (successes > n) or no results."""


class BudgetError(CausalabsError, ValueError):
    """A budget refused: a check estimated to take longer than ``--budget-seconds``, or an impossible budget or
    claim given to a sequential check or a plan (max_pairs, max_seconds, iia, ...)."""


class HypothesisMismatchError(CausalabsError, ValueError):
    """Two hypotheses cannot be compared: their inputs, domains or outputs differ."""


class SweepError(CausalabsError, ValueError):
    """An alignment sweep was asked for an impossible grid, variable set or method."""


# --- causal scrubbing -------------------------------------------------------


class FigureError(CausalabsError, ValueError):
    """A figure cannot be drawn or written as asked: a size, format or file name names the fault."""


class ScrubError(CausalabsError, ValueError):
    """Causal scrubbing cannot run as asked (a correspondence or dataset at fault)."""


class CorrespondenceError(ScrubError, AlignmentError):
    """A correspondence maps a node that does not exist, or breaks the hypothesis' order."""


class UnmatchedValueError(ScrubError, LookupError):
    """Some high-level value needed by scrubbing has no agreeing input in the dataset."""


class AlignmentFileError(AlignmentError):
    """An alignment file cannot be read: missing, wrong schema version, or its weights are missing or altered."""


class UnsavableAlignmentError(AlignmentError, TypeError):
    """An alignment holds something that has no file form (a position function, an unknown featurizer)."""


class UnsupportedNetworkError(NetworkError, TypeError):
    """The network (or its decoder, encoder, featurizer) is outside what ``prove`` can encode."""


class ReportIntegrityError(LoadError):
    """A saved report's content does not match the digest it was written with (it was edited), or it has none."""


class ProofSettingError(CausalabsError, ValueError):
    """An option of ``prove`` is out of range (a timeout that is not positive, an unknown method)."""


class DecodedValueError(NetworkError):
    """A network's ``decode`` gave values that are not integers, or not values of the hypothesis' output."""


class NonFiniteError(ActivationError):
    """A network's output, or a vector at a site, holds NaN or infinity."""


# --- failures outside causalabs ---------------------------------------------


class UserCodeError(CausalabsError, RuntimeError):
    """User code raised (or called ``sys.exit``) while causalabs was running it.

    User code is a network file's ``load()`` and module-level code, a
    network's ``encode``, ``decode`` and forward, an alignment function, and a
    hypothesis file while it is imported.  The message names the file, line
    and function at fault and the exception they raised (kept as
    ``__cause__``); ``where`` is that ``file:line``, ``role`` the call
    causalabs made (``"encode()"``, ``"load()"``...).
    """

    def __init__(self, message: str, *, where: str = "", role: str = "") -> None:
        super().__init__(message)
        self.where = where
        self.role = role


class OutputPathError(CausalabsError, OSError):
    """An output path cannot be written: a folder where a file belongs (or the reverse), a parent that
    cannot be created, no permission, a full disk.  The command line checks output paths before any work."""


class ExecutorError(CausalabsError, RuntimeError):
    """An executor could not run a task: Ray is missing or unreachable, or a task's worker died on every retry."""
