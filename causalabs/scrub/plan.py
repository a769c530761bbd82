"""The treeified correspondence of a scrubbing run: which claimed node patches which, and in which pass."""

from __future__ import annotations

import attrs

from causalabs.errors import CorrespondenceError
from causalabs.network.sites import Site
from causalabs.scrub.claims import Correspondence

#: Largest treeified correspondence accepted (shared claimed nodes are copied per path).
MAX_TREE = 4_096


@attrs.frozen
class TreeNode:
    """One node of the treeified correspondence (``var`` is "" for the top node)."""

    var: str
    children: tuple[int, ...]
    key: tuple[str, ...]
    height: int


class ScrubPlan:
    """The treeified correspondence, node 0 the top; a claimed node feeding several parents is copied.

    Nodes are stored children first, so a parent's id is larger than its
    children's.  ``leaves`` share one recording pass; the nodes of
    ``inner`` of one height (a group of ``levels``) share one patched pass;
    ``passes`` counts them plus the final pass (at most ``claimed + 1``,
    copies of shared nodes included, since every height up to the top's
    has a claimed node).
    """

    def __init__(self, corr: Correspondence) -> None:
        self.sites = dict(corr.sites)
        self.nodes: list[TreeNode] = [TreeNode("", (), (), 0)]
        root = corr.root
        top_vars, top_key = ((root,), ()) if root in corr.sites else (corr.children(root), corr.input_key(root))

        def add(var: str) -> int:
            kids = tuple(add(c) for c in corr.children(var))
            height = 1 + max((self.nodes[k].height for k in kids), default=-1)
            self.nodes.append(TreeNode(var, kids, corr.input_key(var), height))
            if len(self.nodes) > MAX_TREE:
                raise CorrespondenceError(
                    f"{corr.model.name}: the treeified correspondence passes {MAX_TREE} nodes (shared "
                    "claimed nodes are copied once per path): claim fewer nodes"
                )
            return len(self.nodes) - 1

        kids = tuple(add(v) for v in top_vars)
        self.nodes[0] = TreeNode("", kids, top_key, 1 + max((self.nodes[k].height for k in kids), default=-1))
        ids = range(1, len(self.nodes))
        self.leaves = [i for i in ids if self.nodes[i].height == 0]
        self.inner = sorted((i for i in ids if self.nodes[i].height > 0), key=lambda i: self.nodes[i].height)
        levels: dict[int, list[int]] = {}
        for i in self.inner:
            levels.setdefault(self.nodes[i].height, []).append(i)
        #: inner nodes grouped by height, lowest first: each group shares one patched pass
        self.levels: list[list[int]] = [levels[h] for h in sorted(levels)]
        #: whether some site computes its positions from the high-level input columns
        self.columns = any(callable(s.positions) for s in self.sites.values())

    @property
    def passes(self) -> int:
        return (1 if self.leaves else 0) + len(self.levels) + 1

    def site(self, node: int) -> Site:
        return self.sites[self.nodes[node].var]
