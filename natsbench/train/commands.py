"""``natsbench train``: train one architecture and write its record to a store."""
from __future__ import annotations

import argparse
import math
from typing import Any

from natsbench.datasets.specs import dataset_names

__all__ = ["register"]

_EPILOG = """\
examples:
  natsbench train '|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|' \\
      --space tss --dataset digits --protocol 'H0:epochs=2,batch_size=64' --seed 1 --store ./bench
  natsbench train 8:8:40:32:40 --space sss --dataset cifar10 --hp 90 --seed 777 \\
      --data-root ~/data --store ./bench --device cuda

--hp picks the official setting by its hp tag (12 = H0, 200 = H1, 90 = H2); --protocol takes
H0/H1/H2 or a reduced proxy 'H0:epochs=2,batch_size=64,train_fraction=0.1' (fields of
natsbench.train.protocol.Protocol), filed under its own hp tag.
datasets: cifar10-valid, cifar10, cifar100 (from DIR/cifar-10-batches-py or
DIR/cifar-100-python), ImageNet16-120 (DIR/ImageNet16/train_data_batch_1..10, val_data),
digits (bundled with scikit-learn, offline; eval sets x-valid, x-test, ori-test).
"""


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "train", help="train one architecture with a NATS-Bench protocol and record it",
        description="Train one architecture of a search space with the NATS-Bench training "
                    "protocol (or a reduced proxy) on CPU or CUDA, evaluate it after every "
                    "epoch on the dataset's evaluation sets, measure params/FLOPs/latency, "
                    "and write the run as a record into a benchmark store.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arch", help="architecture string (tss '|op~0|+...|', sss 'C1:C2:C3:C4:C5')")
    parser.add_argument("--space", required=True, choices=("tss", "sss"), help="search space")
    parser.add_argument("--dataset", required=True, choices=dataset_names(), help="dataset name")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--hp", help="official training length: 12 (H0), 200 (H1) or 90 (H2)")
    which.add_argument("--protocol", help="H0, H1, H2 or a proxy like 'H0:epochs=2,batch_size=64'")
    parser.add_argument("--seed", type=int, required=True, help="run seed (weights, data order, augmentation)")
    parser.add_argument("--store", help="benchmark directory to write the record into "
                                        "(omit to only print the results)")
    parser.add_argument("--data-root", help="folder holding the dataset's standard folder "
                                            "(not needed for digits)")
    parser.add_argument("--split-file", help="official split file of the dataset (cifar-split.txt, "
                                             "cifar100-test-split.txt, imagenet-16-120-test-split.txt); "
                                             "default: a generated stratified split")
    parser.add_argument("--image-size", type=int, default=None,
                        help="side length of the digits images (default 16)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for this run (default: torch's choice)")
    parser.add_argument("--checkpoint-dir", help="save the run state after every epoch and "
                                                 "resume an interrupted run from it")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _run(args: argparse.Namespace) -> int:
    from natsbench.datasets import load_dataset
    from natsbench.store.records import record_path
    from natsbench.train.protocol import get_protocol, protocol_for_hp
    from natsbench.train.trainer import train_arch

    from natsbench.errors import check_range

    protocol = protocol_for_hp(args.hp) if args.hp is not None else get_protocol(args.protocol)
    dataset = args.dataset
    if args.image_size is not None:
        check_range("--image-size", args.image_size, 4, 1024)
        dataset = load_dataset(args.dataset, root=args.data_root, split_file=args.split_file,
                               image_size=args.image_size)
    record = train_arch(args.space, args.arch, dataset, protocol, args.seed,
                        device=args.device, data_root=args.data_root, store=args.store,
                        progress=not args.no_progress, split_file=args.split_file,
                        num_threads=args.threads, measure_latency=not args.no_latency,
                        checkpoint_dir=args.checkpoint_dir)
    last = {name: values[-1] for name, values in record.metrics.items()}
    print(f"{record.space} {record.arch} {record.dataset} hp={record.hp} seed={record.seed} "
          f"epochs={record.epochs} device={record.provenance['device']}")
    print("  costs: params {} M, flops {} M, latency {} s".format(
        *(_fmt(record.costs[k]) for k in ("params", "flops", "latency"))))
    print(f"  train: loss {_fmt(last['train_loss'])}, acc1 {_fmt(last['train_acc1'])} %, "
          f"time/epoch {_fmt(last['train_time'])} s")
    sets = dict.fromkeys(k.rsplit("_", 1)[0] for k in record.metrics)  # record order
    for name in [n for n in sets if n != "train"]:
        print(f"  {name}: loss {_fmt(last[name + '_loss'])}, acc1 {_fmt(last[name + '_acc1'])} %")
    if args.store:
        print("  record:", record_path(args.store, record.space, record.arch, record.dataset,
                                       record.hp, record.seed))
    return 0
