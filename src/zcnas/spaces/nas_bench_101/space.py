"""NAS-Bench-101 as a ``SearchSpace`` (Ying et al., "NAS-Bench-101: Towards Reproducible Neural
Architecture Search", ICML 2019).

A cell is a DAG of at most 7 vertices and 9 edges: vertex 0 is the input, the last the output,
each interior vertex one of ``OPS``.  Vertices not on an input->output path compute nothing and
are pruned, as NAS-Bench-101 does; an architecture is the *pruned* cell (``Nb101Cell``).

String: ``<n*n digits>:<n ops>`` for the pruned n-vertex cell, the adjacency matrix row-major
(row = source vertex) then the vertex ops comma-separated, e.g. ``Nb101Cell.example``.  ``parse``
takes any n in 2..7 and prunes; ``format`` writes the pruned form.  The identity key is
NAS-Bench-101's isomorphism-invariant md5 graph hash, the key of its dataset.

Plain Python: the torch network lives in ``zcnas.spaces.nas_bench_101.network``, imported only by
``build_network``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from zcnas.errors import ArchError
from zcnas.spaces.base import SearchSpace, seeded

#: interior ops in NAS-Bench-101's canonical order: their index is the label the hash uses
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
INPUT, OUTPUT = "input", "output"
MAX_VERTICES = 7
MAX_EDGES = 9

Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True, order=True)
class Nb101Cell:
    """A pruned, valid cell: its adjacency matrix (``matrix[i][j] == 1``: edge i -> j) and ops."""

    matrix: Matrix
    ops: tuple[str, ...]

    def __str__(self) -> str:
        digits = "".join(str(b) for row in self.matrix for b in row)
        return f"{digits}:{','.join(self.ops)}"

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))


def _help() -> str:
    return ("expected '<n*n digits 0/1, row-major upper-triangular adjacency>:<n comma-separated ops>', "
            f"n in 2..{MAX_VERTICES}, first op input, last op output, e.g. {NasBench101.example}")


def prune(matrix: Matrix, ops: tuple[str, ...]) -> tuple[Matrix, tuple[str, ...]] | None:
    """Drop the vertices not both reachable from the input and reaching the output (they cannot
    affect the output); None when the input does not reach the output at all."""
    n = len(ops)
    forward, backward = {0}, {n - 1}
    for v in range(1, n):  # upper-triangular: one pass in vertex order suffices
        if any(matrix[u][v] for u in forward):
            forward.add(v)
    for v in range(n - 2, -1, -1):
        if any(matrix[v][w] for w in backward):
            backward.add(v)
    keep = sorted(forward & backward)
    if n - 1 not in keep or 0 not in keep:
        return None
    return tuple(tuple(matrix[i][j] for j in keep) for i in keep), tuple(ops[i] for i in keep)


def make_cell(matrix, ops, text: str | None = None) -> Nb101Cell:
    """The pruned cell of a square 0/1 matrix and its ops; a one-line ``ArchError`` if invalid."""
    what = f"architecture {text!r}" if text is not None else "NAS-Bench-101 cell"
    matrix = tuple(tuple(int(b) for b in row) for row in matrix)
    ops = tuple(ops)
    n = len(matrix)
    if not 2 <= n <= MAX_VERTICES:
        raise ArchError(f"{what} has {n} vertices, expected 2..{MAX_VERTICES}; {_help()}")
    if any(len(row) != n for row in matrix) or any(b not in (0, 1) for row in matrix for b in row):
        raise ArchError(f"{what}: the matrix must be square with entries 0 or 1; {_help()}")
    if any(matrix[i][j] for i in range(n) for j in range(i + 1)):
        raise ArchError(f"{what}: the matrix must be upper triangular (edges only from a lower to a "
                        f"higher vertex, zero diagonal); {_help()}")
    if len(ops) != n:
        raise ArchError(f"{what} has {n} vertices but {len(ops)} ops; {_help()}")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise ArchError(f"{what}: the first op must be {INPUT} and the last {OUTPUT}; {_help()}")
    bad = [op for op in ops[1:-1] if op not in OPS]
    if bad:
        raise ArchError(f"{what} has unknown op {bad[0]!r}; valid interior ops: {', '.join(OPS)}")
    pruned = prune(matrix, ops)
    if pruned is None:
        raise ArchError(f"{what}: no path connects the input to the output")
    cell = Nb101Cell(*pruned)
    if cell.num_edges > MAX_EDGES:
        raise ArchError(f"{what} has {cell.num_edges} edges after pruning, at most {MAX_EDGES} allowed")
    return cell


def from_benchmark(matrix: str, ops: str) -> Nb101Cell:
    """The cell of a benchmark table row: its ``matrix`` (49 digits) and ``ops`` (7 comma-separated)."""
    return NasBench101().parse(f"{matrix}:{ops}")


def graph_hash(cell: Nb101Cell) -> str:
    """NAS-Bench-101's isomorphism-invariant hash (its ``graph_util.hash_module``): every vertex
    starts from md5 of "(out-degree, in-degree, label)" (label -1 input, -2 output, else the index
    in ``OPS``), then, once per vertex, becomes md5 of its sorted in-neighbour hashes, '|', its
    sorted out-neighbour hashes, '|', its own; the hash is md5 of the sorted final list's repr.
    The same strings as the original, so the hex equals the dataset's key."""
    m, n = cell.matrix, cell.num_vertices
    labels = [-1, *(OPS.index(op) for op in cell.ops[1:-1]), -2]
    hashes = [_md5(str((sum(m[v]), sum(row[v] for row in m), labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [_md5("".join(sorted(hashes[u] for u in range(n) if m[u][v])) + "|"
                       + "".join(sorted(hashes[w] for w in range(n) if m[v][w])) + "|" + hashes[v])
                  for v in range(n)]
    return _md5(str(sorted(hashes)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def vertex_channels(matrix: Matrix, c_in: int, c_out: int) -> list[int]:
    """Channels of each vertex of a pruned cell (NAS-Bench-101's ``compute_vertex_channels``): the
    vertices feeding the output split ``c_out`` (the first ones take the remainder), every other
    interior vertex gets the largest count among its interior successors."""
    n = len(matrix)
    channels = [c_in] + [0] * (n - 2) + [c_out]
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    if not feeders:
        return channels
    share, extra = divmod(c_out, len(feeders))
    for i, v in enumerate(feeders):
        channels[v] = share + (i < extra)
    for v in range(n - 3, 0, -1):  # backwards, so successors are set first
        if not matrix[v][n - 1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if matrix[v][w])
    return channels


class NasBench101(SearchSpace):
    name = "nas_bench_101"
    # the first cell of the NAS-Bench-101 dataset (hash 00005c142e6f48ac74fdcf73e3439874)
    example = ("0100110001000000010010000010000001000000010000000:"
               "input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output")
    size = None  # 423,624 cells, no integer index

    # --- strings ----------------------------------------------------------------------------
    def parse(self, text: str) -> Nb101Cell:
        if not isinstance(text, str):
            raise ArchError(f"an architecture of {self.name} is a string, got {text!r}; {_help()}")
        digits, sep, ops = text.strip().partition(":")
        if not sep:
            raise ArchError(f"architecture {text!r} has no ':' between matrix and ops; {_help()}")
        n = next((k for k in range(2, MAX_VERTICES + 1) if k * k == len(digits)), None)
        if n is None:
            raise ArchError(f"architecture {text!r} has {len(digits)} matrix digits, not n*n for n in "
                            f"2..{MAX_VERTICES} (4, 9, ..., 49); {_help()}")
        if set(digits) - {"0", "1"}:
            raise ArchError(f"architecture {text!r}: the matrix digits must be 0 or 1; {_help()}")
        matrix = [[int(c) for c in digits[i * n:(i + 1) * n]] for i in range(n)]
        return make_cell(matrix, [op.strip() for op in ops.split(",")], text)

    def format(self, arch: Nb101Cell) -> str:
        return str(arch)

    def identity_key(self, arch: Nb101Cell) -> str:
        return graph_hash(arch)

    # --- sampling and mutation --------------------------------------------------------------
    def sample(self, rng: random.Random) -> Nb101Cell:
        """NAS-Bench-101's random sampling: each of the 21 upper-triangular entries of a 7x7
        matrix is 1 with probability 1/2, each interior op uniform; redraw until valid.  (Uniform
        over specs, hence not over hashes: as the original, isomorphic cells are not merged.)"""
        n = MAX_VERTICES
        while True:
            matrix = [[int(j > i and rng.random() < 0.5) for j in range(n)] for i in range(n)]
            ops = [INPUT, *(rng.choice(OPS) for _ in range(n - 2)), OUTPUT]
            try:
                return make_cell(matrix, ops)
            except ArchError:
                continue

    @staticmethod
    def padded(arch: Nb101Cell) -> tuple[list[list[int]], list[str]]:
        """``arch`` as a 7-vertex spec: the 7-n missing vertices are inserted right after the input,
        each fed by the input only, their ops cycling through ``OPS``.  They are dangling (pruned
        away), but a single added edge out of one brings it in: so one edit can also grow the cell."""
        n, pad = arch.num_vertices, MAX_VERTICES - arch.num_vertices
        old = [0, *range(pad + 1, MAX_VERTICES)]  # new position of each old vertex
        matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        for i in range(n):
            for j in range(n):
                matrix[old[i]][old[j]] = arch.matrix[i][j]
        for p in range(1, pad + 1):
            matrix[0][p] = 1
        return matrix, [INPUT, *(OPS[p % len(OPS)] for p in range(pad)), *arch.ops[1:]]

    def neighbours(self, arch: Nb101Cell) -> list[Nb101Cell]:
        """The valid cells one edit from ``padded(arch)``: flip one of its 21 upper-triangular
        edges (row by row), then change one interior op (vertex by vertex, ``OPS`` order); each
        pruned, the first of equal ones kept, ``arch`` itself left out."""
        matrix, ops = self.padded(arch)
        candidates = []
        for i in range(MAX_VERTICES):
            for j in range(i + 1, MAX_VERTICES):
                flipped = [row[:] for row in matrix]
                flipped[i][j] ^= 1
                candidates.append((flipped, ops))
        for v in range(1, MAX_VERTICES - 1):
            candidates += [(matrix, [*ops[:v], op, *ops[v + 1:]]) for op in OPS if op != ops[v]]
        seen, result = {arch}, []
        for m, o in candidates:
            try:
                cell = make_cell(m, o)
            except ArchError:
                continue
            if cell not in seen:
                seen.add(cell)
                result.append(cell)
        return result

    # --- networks ---------------------------------------------------------------------------
    def build_network(self, arch: Nb101Cell, num_classes: int, input_size: int = 32, seed: int | None = None,
                      prune: bool = False):
        """The NAS-Bench-101 network of ``arch``; any input size (global pooling).  ``prune`` does
        nothing here: the cell is already pruned."""
        from zcnas.spaces.nas_bench_101.network import Nb101Network

        arch = self.to_arch(arch)
        with seeded(seed):
            return Nb101Network(arch, num_classes, input_size)

    def to_arch(self, value) -> Nb101Cell:
        return value if isinstance(value, Nb101Cell) else super().to_arch(value)
