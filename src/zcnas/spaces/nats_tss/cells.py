"""The NATS-Bench topology search space (15,625 cells), as plain Python.

A cell is a DAG of 4 nodes; node j sums one operation applied to every
earlier node i < j, and node 3 is the output.  Its six edges, in NATS-Bench's
order, are 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.  The architecture string lists
them node by node::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

NATS-Bench's index of a cell comes from enumerating all 5^6 cells (first edge
slowest, last edge fastest, operations in ``OPS`` order) and shuffling that
list with ``random.seed(88); random.shuffle(...)`` (Dong et al., NATS-Bench,
TPAMI 2021).  We rebuild the same list here, so no download is needed.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import lru_cache

from zcnas.errors import ArchError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from)
NUM_NODES = 4
NUM_CELLS = len(OPS) ** len(EDGES)  # 15,625


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the space: the operation on each of the six edges."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES):
            raise ArchError(f"a cell has {len(EDGES)} edges, got {len(self.ops)} operations")
        for op in self.ops:
            if op not in OPS:
                raise ArchError(f"unknown operation {op!r}; valid: {', '.join(OPS)}")

    def __str__(self) -> str:
        return format_arch(self)

    @property
    def index(self) -> int:
        return arch_index(self)

    def edge(self, to: int, frm: int) -> str:
        return self.ops[EDGES.index((to, frm))]


def format_arch(cell: Cell) -> str:
    parts = []
    for node in range(1, NUM_NODES):
        parts.append("|" + "|".join(f"{cell.edge(node, i)}~{i}" for i in range(node)) + "|")
    return "+".join(parts)


def parse_arch(text: str) -> Cell:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; errors say which part is wrong."""
    if not isinstance(text, str):
        raise ArchError(f"architecture must be a string, got {type(text).__name__}")
    s = text.strip()
    nodes = s.split("+")
    if len(nodes) != NUM_NODES - 1:
        raise ArchError(
            f"architecture {text!r} has {len(nodes)} node groups separated by '+', expected "
            f"{NUM_NODES - 1} (e.g. |nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|)"
        )
    ops = {}
    for node, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise ArchError(f"node {node} group {group!r} in {text!r} must start and end with '|'")
        edges = group[1:-1].split("|")
        if len(edges) != node:
            raise ArchError(
                f"node {node} group {group!r} in {text!r} has {len(edges)} edges, expected {node}"
            )
        for token in edges:
            op, sep, src = token.partition("~")
            if not sep or not src.isdigit():
                raise ArchError(f"edge {token!r} in {text!r} must look like op~input (e.g. nor_conv_3x3~0)")
            if op not in OPS:
                raise ArchError(f"unknown operation {op!r} in {text!r}; valid: {', '.join(OPS)}")
            src_i = int(src)
            if src_i >= node:
                raise ArchError(f"edge {token!r} of node {node} in {text!r} takes input {src_i}; must be < {node}")
            if (node, src_i) in ops:
                raise ArchError(f"node {node} in {text!r} has two edges from input {src_i}")
            ops[(node, src_i)] = op
    return Cell(tuple(ops[e] for e in EDGES))


@lru_cache(maxsize=1)
def _index_order() -> tuple[tuple[tuple[str, ...], ...], dict[tuple[str, ...], int]]:
    order = list(itertools.product(OPS, repeat=len(EDGES)))
    random.Random(88).shuffle(order)  # same stream as random.seed(88); random.shuffle
    return tuple(order), {ops: i for i, ops in enumerate(order)}


def arch_from_index(index: int) -> Cell:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_CELLS:
        raise ArchError(f"architecture index must be an integer in 0..{NUM_CELLS - 1}, got {index!r}")
    return Cell(_index_order()[0][index])


def arch_index(cell: Cell) -> int:
    return _index_order()[1][cell.ops]


def all_cells() -> list[Cell]:
    """All cells in NATS-Bench index order."""
    return [Cell(ops) for ops in _index_order()[0]]


def to_cell(arch: Cell | str | int) -> Cell:
    """Accept a Cell, an architecture string or a NATS-Bench index."""
    if isinstance(arch, Cell):
        return arch
    if isinstance(arch, str):
        return parse_arch(arch)
    return arch_from_index(arch)


# --- sampling and mutation -------------------------------------------------

def sample_cell(rng: random.Random) -> Cell:
    """A cell drawn uniformly from the space (each edge's op uniform)."""
    return Cell(tuple(rng.choice(OPS) for _ in EDGES))


def neighbours(cell: Cell) -> list[Cell]:
    """The 24 cells that differ from ``cell`` on exactly one edge (edge-major order)."""
    result = []
    for e, current in enumerate(cell.ops):
        for op in OPS:
            if op != current:
                result.append(Cell(cell.ops[:e] + (op,) + cell.ops[e + 1:]))
    return result


def random_neighbour(cell: Cell, rng: random.Random) -> Cell:
    """A uniformly chosen one-edit mutation of ``cell``."""
    return rng.choice(neighbours(cell))


# --- structure: isomorphism and dead paths --------------------------------

def isomorphism_key(cell: Cell) -> str:
    """A key shared by cells that compute the same function.

    Follows NATS-Bench's convention for its count of 6,466 distinct cells: each
    node is written as the sorted list of its incoming terms joined by '+'; a
    ``skip_connect`` term is its input node's expression unchanged, a
    parametric op ``o`` on input ``e`` is ``(e)@o``, and a ``none`` edge (or an
    edge whose input is exactly zero) is the zero term ``#``.  Zero terms are
    kept, so this key is conservative: equal keys imply the same function, but
    a few equal functions (e.g. ``x`` and ``x + 0``) keep separate keys.
    """
    expr = {0: "0"}
    for node in range(1, NUM_NODES):
        terms = []
        for frm in range(node):
            op, src = cell.edge(node, frm), expr[frm]
            if op == "none" or src == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(src)
            else:
                terms.append(f"({src})@{op}")
        expr[node] = "+".join(sorted(terms))
    return expr[NUM_NODES - 1]


def representatives() -> dict[int, int]:
    """Index -> lowest index of its isomorphism class."""
    first: dict[str, int] = {}
    rep = {}
    for i, cell in enumerate(all_cells()):
        rep[i] = first.setdefault(isomorphism_key(cell), i)
    return rep


def reachable_from_input(cell: Cell) -> set[int]:
    """Nodes connected to the input by a path of non-``none`` edges."""
    live = {0}
    for node in range(1, NUM_NODES):
        if any(cell.edge(node, frm) != "none" and frm in live for frm in range(node)):
            live.add(node)
    return live


def is_disconnected(cell: Cell) -> bool:
    """True when the output node has no path from the input: the cell outputs zeros."""
    return NUM_NODES - 1 not in reachable_from_input(cell)
