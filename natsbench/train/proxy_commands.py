"""``natsbench proxy-data``: select entropy-based proxy data (Na 2022, ch. 3) into an index file."""
from __future__ import annotations

import argparse
from typing import Any

from natsbench.datasets.specs import dataset_names

__all__ = ["register"]

_EPILOG = """\
examples:
  natsbench proxy-data --dataset digits --selection p1 --size 10% --out p1-10.json
  natsbench proxy-data --dataset cifar10-valid --data-root ~/data --selection tails --beta 0.9 \\
      --size 5000 --out tails-5k.json --device cuda
  natsbench search-ws darts-v1 --dataset digits --proxy-data p1-10.json --out ws.parquet

selections (Na, PhD thesis 2022, ch. 3): random; top / bottom (the k highest / lowest entropies);
tails (bottom round(beta*k) + top k-round(beta*k)); p1, p2, p3 (probabilistic selection from the
histogram of log10 entropy with sampling weights W1, W2, W3 of the thesis's Eq. 3.4-3.6; p1 is
the thesis's proposed method). Entropies come from an auxiliary network (the NATS ResNet cell,
--aux-* settings) trained by this command on the dataset's train set only and cached under the
natsbench cache root; a second call with the same settings is instant. The output JSON holds the
sorted train indices and their provenance; searches split them evenly between weight and
architecture batches (docs/ALGORITHMS.md, "Proxy data").
"""


def register(subparsers: Any) -> None:
    """Add the ``proxy-data`` sub-command to ``subparsers``."""
    from natsbench.datasets.proxy import DEFAULT_BETA, SELECTIONS

    p = subparsers.add_parser(
        "proxy-data", help="select entropy-based proxy data of a training set (index file)",
        description="Train a small auxiliary network on the dataset's train set (cached), take "
                    "the entropy of every training example, select k of them with a rule of "
                    "Na (2022, ch. 3) and write their indices with provenance as JSON.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=dataset_names(),
                   help="the dataset the search loads (search-ws cifar10 searches on cifar10-valid)")
    p.add_argument("--selection", required=True, choices=SELECTIONS, help="selection rule")
    p.add_argument("--size", required=True,
                   help="proxy size k: a count (500), a fraction (0.1) or a percentage (10%%) of train")
    p.add_argument("--out", required=True, help="output JSON index file")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of random/p1/p2/p3 and of the weight/architecture split (default 0)")
    p.add_argument("--beta", type=float, default=DEFAULT_BETA,
                   help=f"tails: fraction of low-entropy examples (default {DEFAULT_BETA})")
    p.add_argument("--bin-width", type=float, default=None,
                   help="p1/p2/p3: histogram bin width in log10 entropy (default 0.5; 0.25 on "
                        "cifar100 and ImageNet16-120, as the thesis's code)")
    p.add_argument("--data-root", default=None, help="folder of the CIFAR/ImageNet16 files")
    p.add_argument("--split-file", default=None,
                   help="the dataset's official split file (use the one the search uses)")
    p.add_argument("--image-size", type=int, default=None,
                   help="digits image side (default 16; the indices do not depend on it)")
    p.add_argument("--aux-epochs", type=int, default=12, help="aux model epochs (default 12)")
    p.add_argument("--aux-batch-size", type=int, default=None,
                   help="aux model batch size (default 64 on digits, else 256)")
    p.add_argument("--aux-channels", type=int, default=16, help="aux model width C (default 16)")
    p.add_argument("--aux-cells", type=int, default=3,
                   help="aux model cells per stage N (default 3: a ResNet-20 analogue)")
    p.add_argument("--aux-seed", type=int, default=0, help="aux model seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads of the aux model (default: 1; CPU entropies are "
                        "bit-identical for one thread count)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_proxy_data)


def _proxy_data(args: argparse.Namespace) -> int:
    from natsbench.errors import check_output, check_range, require_dir, require_file
    from natsbench.train.proxy_data import AuxSettings, make_proxy_selection, write_proxy_selection

    check_output(args.out, "--out", directory=False)
    check_range("--seed", args.seed, 0, 2**32 - 1)
    if args.data_root is not None:
        require_dir(args.data_root, "--data-root")
    if args.split_file is not None:
        require_file(args.split_file, "--split-file")
    if args.threads is not None:
        check_range("--threads", args.threads, 1, 4096)
    if args.selection == "tails":
        check_range("--beta", args.beta, 1e-9, 1 - 1e-9)
    if args.bin_width is not None:
        check_range("--bin-width", args.bin_width, 1e-6, 100)
    batch = args.aux_batch_size or (64 if args.dataset == "digits" else 256)
    aux = AuxSettings(channels=args.aux_channels, cells=args.aux_cells, epochs=args.aux_epochs,
                      batch_size=batch, seed=args.aux_seed)
    doc = make_proxy_selection(args.dataset, args.selection, args.size, seed=args.seed,
                               beta=args.beta, bin_width=args.bin_width, aux=aux,
                               data_root=args.data_root, split_file=args.split_file,
                               image_size=args.image_size, device=args.device,
                               num_threads=args.threads, progress=not args.no_progress)
    path = write_proxy_selection(doc, args.out)
    line = f"{doc['k']} of {doc['train_size']} {doc['dataset']} train examples ({args.selection})"
    if "entropy" in doc:
        ent = doc["entropy"]
        line += (f"; mean entropy {ent['mean_selected']:.4f} (all: {ent['mean_all']:.4f}); aux "
                 f"train acc {doc['aux_model']['train_acc1_eval_mode']:.1f}%")
    print(f"{line} -> {path}")
    return 0
