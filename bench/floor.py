"""How fast can a paper metric get? Its time beside the network's own passes, which no engine avoids.

hook_logdet needs the sign of every ReLU input, so one forward pass of the network over the batch
in training mode; snip needs one forward and one backward pass of the cross-entropy loss.  This
script times, per seeded cell and interleaved (so that load affects all alike):

* ``build``: constructing and seeding the network zcnas scores (``prune=True``);
* ``forward``: one training-mode forward pass of that built network, no hooks, no gradients;
* ``forward+backward``: the loss and its backward pass (the weights' gradients);
* the engine's score (``make_metric``) and the straightforward implementation's
  (``tests/reference_metrics.py``, the paper authors' way: full network, hooks on every ReLU).

It prints the medians and the *ceiling* ``reference / (build + pass)``: an engine that spent no time
beyond building the network and running its pass could be at most that much faster than the
reference, so a target above it needs less arithmetic (lower precision, fewer images), not less
overhead.

    .venv/bin/python bench/floor.py                   # 20 cells, CIFAR-10 batch of 128, zcnas's threads
    .venv/bin/python bench/floor.py --cells 8 --threads 2
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bench import Scorers, cpu_info, load, set_threads  # noqa: E402
from zcnas.spaces.nats_tss.network import build_network  # noqa: E402
from zcnas.spaces.nats_tss.cells import sample_cell  # noqa: E402

PASSES = {"hook_logdet": "forward", "snip": "forward+backward"}


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--threads", default="auto", help="torch threads: a number or auto (zcnas's policy)")
    ap.add_argument("--sample-seed", type=int, default=2024)
    ap.add_argument("--verbose", action="store_true", help="print every timing")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args(argv)
    threads, why = set_threads(args.threads)  # bench.py's: the same policy, the same wording
    info = cpu_info()
    print(f"zcnas floor: {info['cpu']} ({' '.join(info['vector_features'])}), {threads} torch thread(s) ({why}), "
          f"{args.cells} cells, CIFAR-10 batch 128, load {load()}", flush=True)
    scorers = Scorers("cifar10", 128, 0, "cpu", Path(args.data_dir) / "samples")
    x, y = scorers.context.batch
    rng = random.Random(args.sample_seed)
    cells = [sample_cell(rng) for _ in range(args.cells)]

    def build(cell):
        return build_network(cell, scorers.num_classes, seed=0, prune=True)

    def forward(net):
        net.train()
        with torch.no_grad():
            net(x)

    def forward_backward(net):
        net.train()
        out = net(x)
        out = out[-1] if isinstance(out, tuple) else out
        nn.functional.cross_entropy(out, y).backward()

    parts = {"build": lambda c: timed(build, c)[1],
             "forward": lambda c: timed(forward, build(c))[1],
             "forward+backward": lambda c: timed(forward_backward, build(c))[1]}
    for metric in PASSES:
        engine, reference = scorers.engine(metric), scorers.reference(metric)
        parts[f"{metric} engine"] = lambda c, f=engine: timed(f, c)[1]
        parts[f"{metric} reference"] = lambda c, f=reference: timed(f, c)[1]
    for fn in parts.values():  # warm-up, not timed
        fn(cells[0])
    times = {name: [] for name in parts}
    names = list(parts)
    for i, cell in enumerate(cells):
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotate the order per cell
            times[name].append(parts[name](cell))
            if args.verbose:
                print(i, name, round(times[name][-1], 3), flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"\nmedian seconds per cell (load at end {load()}):")
    for name, value in med.items():
        print(f"  {name:<22} {value:8.4f}")
    print()
    for metric, pass_name in PASSES.items():
        floor = med["build"] + med[pass_name]
        print(f"{metric}: reference {med[f'{metric} reference']:.3f} s, engine {med[f'{metric} engine']:.3f} s "
              f"({med[f'{metric} reference'] / med[f'{metric} engine']:.1f}x); build + {pass_name} {floor:.3f} s "
              f"-> at most {med[f'{metric} reference'] / floor:.1f}x faster than the reference with this arithmetic; "
              f"the engine spends {med[f'{metric} engine'] - floor:+.3f} s beyond it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
