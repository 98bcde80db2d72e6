"""Surrogate noise check: is the spread of surrogate draws like the spread of re-trainings?

On a benchmark with several seeds per architecture, the measured architectures are split into
a training part and a held-out part. The search surrogate (``natsbench.api.evaluation``) is
fitted on the training part only (models, learning-curve lines, noise). For each held-out
architecture it then answers ``--draws`` queries of the full protocol, as the runner does (the
prediction plus ``noise_sd * N(0, 1)`` from one generator); the standard deviation of those
draws is compared with the standard deviation of the architecture's measured seeds. The goal
(issue #13) is a ratio within a factor 2. Both figures are pooled over the held-out
architectures (root mean of the per-architecture variances).

Without ``--bench`` it builds a small multi-seed benchmark first (sss on the bundled 8x8
digits, a 4-epoch proxy of H0 on half the training set, 3 seeds, ``--archs`` architectures;
about 3 s per run on a quiet 2-core machine)::

    python benchmarks/surrogate_noise.py --workdir /tmp/natsbench-noise
    python benchmarks/surrogate_noise.py --bench /tmp/sb/noise-bench
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

PROTOCOL = "H0:epochs=4,train_fraction=0.5,eval_batch_size=1024"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", default=None, help="a benchmark with >= 2 seeds per arch")
    parser.add_argument("--workdir", default="/tmp/natsbench-noise")
    parser.add_argument("--archs", type=int, default=60, help="archs of the built benchmark")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--model", default="gp", choices=("gp", "gbt"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import natsbench
    from natsbench.api.evaluation import fit_search_surrogate

    if args.bench is None:
        from natsbench.build.builder import build

        path = Path(args.workdir) / "bench"
        t = time.perf_counter()
        build(space="sss", datasets=[args.dataset], protocol=PROTOCOL, seeds=[1, 2, 3],
              store=path, archs=f"sample:{args.archs}", image_size=8, progress=True)
        print(f"built {path} in {time.perf_counter() - t:.0f} s")
    else:
        path = Path(args.bench)
    bench = natsbench.open_bench(path)
    hp = bench.hps(args.dataset)[0]
    acc = np.asarray(bench.metric(args.dataset, hp, "x-valid_acc1", seed="all", epoch="all"))
    final = acc[:, :, -1]
    seeds_run = np.isfinite(final).sum(axis=1)
    multi = np.flatnonzero(seeds_run >= 2)
    if multi.size < 10:
        print(f"{path}: only {multi.size} archs with >= 2 seeds; need >= 10", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(multi)
    n_test = max(3, int(round(args.holdout * multi.size)))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    t = time.perf_counter()
    sur = fit_search_surrogate(bench, args.dataset, hp, "x-valid", model=args.model,
                               seed=args.seed, use_stored=False, archs=train)
    fit_s = time.perf_counter() - t
    curves = sur.curves([bench.arch_strs[i] for i in test])
    e = acc.shape[2]
    rows = np.repeat(np.arange(test.size), args.draws)
    draws = curves.draw(rng, rows, np.full(rows.size, e)).reshape(test.size, args.draws)
    draw_sd = float(np.sqrt(np.mean(draws.var(axis=1, ddof=1))))
    seed_sd = float(np.sqrt(np.nanmean(np.nanvar(final[test], axis=1, ddof=1))))
    train_seed_sd = float(np.sqrt(np.nanmean(np.nanvar(final[train], axis=1, ddof=1))))
    pred_err = float(np.sqrt(np.mean((curves.mean[:, -1] - np.nanmean(final[test], axis=1)) ** 2)))
    print(f"benchmark {path}: {bench.space}, {args.dataset} hp {hp}, {e} epochs, "
          f"{multi.size} archs with >= 2 seeds ({train.size} train / {test.size} held out)")
    print(f"surrogate ({args.model}, fitted in {fit_s:.1f} s): noise source: {sur.info['noise']}")
    print(f"  spread of {args.draws} surrogate draws per held-out arch (final epoch):   "
          f"{draw_sd:.3f} %")
    print(f"  measured seed spread of the held-out archs (final epoch):              "
          f"{seed_sd:.3f} %")
    print(f"  ratio draws / seeds: {draw_sd / seed_sd:.2f}  (goal: within [0.5, 2])")
    print(f"  (seed spread of the training archs {train_seed_sd:.3f} %; RMSE of the predicted "
          f"mean vs the held-out seed means {pred_err:.3f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
