"""The CLI error contract: malformed arguments to every sub-command end in exit code 2 and one
clean ``natsbench <cmd>: error: ...`` line, never a traceback, and write nothing.

Sub-commands are enumerated from the parser, so a new one fails
:func:`test_every_sub_command_has_malformed_argument_cases` until it gets rows in :data:`CASES`.
Every row must fail before any long work starts (training, searching, fitting, plotting).
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from natsbench.cli import build_parser, iter_commands, main

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "benchmarks"
TSS_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
HUGE = "99999999999999999999"


@dataclass(frozen=True)
class Case:
    """One malformed invocation: argv with ``{placeholders}`` (see :func:`paths`), and what
    must mention in stderr (a bad value or a valid one, lower case)."""

    argv: tuple[str, ...]
    expect: str = ""

    def __str__(self) -> str:
        return " ".join(self.argv)


def C(*argv: str, expect: str = "") -> Case:  # noqa: N802 - short table rows
    return Case(tuple(argv), expect)


#: Malformed arguments of every sub-command (key: the words of the sub-command).
CASES: dict[str, list[Case]] = {
    "info": [
        C("info", "", expect="''"),
        C("info", "{missing}", expect="does not exist"),
        C("info", "{file}", expect="file.txt"),
        C("info", "{dir}", expect="neither"),
        C("info", "{broken}", expect="manifest"),
    ],
    "import-official": [
        C("import-official", "{missing}", "--out", "{out}", expect="missing"),
        C("import-official", "{file}", "--out", "{out}", expect="file.txt"),
        C("import-official", "{dir}", "--out", "{out}", expect="dir"),
        C("import-official", "", "--out", "{out}", expect="''"),
        C("import-official", "{missing}", "--out", "{out}", "--space", "nope", expect="invalid choice"),
        C("import-official", "{missing}", "--out", "", expect="''"),
    ],
    "import-table": [
        C("import-table", "{missing}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "12", expect="missing"),
        C("import-table", "{dir}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "12", expect="dir"),
        C("import-table", "{file}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "12", expect="file.txt"),
        C("import-table", "{table}", "--out", "{out}", "--space", "nospace", "--dataset", "d",
          "--hp", "12", expect="nospace"),
        C("import-table", "{table}", "--out", "{out}", "--space", "", "--dataset", "d",
          "--hp", "12", expect="''"),
        C("import-table", "{table}", "--out", "{out}", "--space", "tss", "--dataset", "",
          "--hp", "12", expect="''"),
        C("import-table", "{table}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "", expect="hp"),
        C("import-table", "{table}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "-5", expect="-5"),
        C("import-table", "{table}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "12", "--arch-column", "nocol", expect="nocol"),
        C("import-table", "{bad_table}", "--out", "{out}", "--space", "tss", "--dataset", "d",
          "--hp", "12", expect="|bad|"),
        C("import-table", "{table}", "--out", "{file}", "--space", "tss", "--dataset", "d",
          "--hp", "12", expect="file.txt"),
    ],
    "compact": [
        C("compact", "", expect="''"),
        C("compact", "{missing}", expect="missing"),
        C("compact", "{file}", expect="file.txt"),
        C("compact", "{dir}", expect="dir"),
    ],
    "query": [
        C("query", "{missing}", "0", "--dataset", "digits", "--hp", "12", expect="does not exist"),
        C("query", "{file}", "0", "--dataset", "digits", "--hp", "12", expect="file.txt"),
        C("query", "{dir}", "0", "--dataset", "digits", "--hp", "12", expect="neither"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "", expect="hp"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "7", expect="'7'"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "-12", expect="-12"),
        C("query", "{tss}", "0", "--dataset", "nodata", "--hp", "12", expect="nodata"),
        C("query", "{tss}", "0", "--dataset", "", "--hp", "12", expect="''"),
        C("query", "{tss}", "", "--dataset", "digits", "--hp", "12", expect="''"),
        C("query", "{tss}", "-1", "--dataset", "digits", "--hp", "12", expect="-1"),
        C("query", "{tss}", "15625", "--dataset", "digits", "--hp", "12", expect="15625"),
        C("query", "{tss}", HUGE, "--dataset", "digits", "--hp", "12", expect=HUGE),
        C("query", "{tss}", "|bad|", "--dataset", "digits", "--hp", "12", expect="|bad|"),
        C("query", "{tss}", "|nor_conv_3x3~0|+|", "--dataset", "digits", "--hp", "12",
          expect="nor_conv_3x3"),
        C("query", "{tss}", "8:8:8:8:8", "--dataset", "digits", "--hp", "12", expect="8:8:8:8:8"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "12", "--epoch", HUGE, expect=HUGE),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "12", "--epoch", "-100", expect="-100"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "12", "--seed", "-1", expect="-1"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "12", "--seed", HUGE, expect="777"),
        C("query", "{tss}", "0", "--dataset", "digits", "--hp", "12", "--seed", "x", expect="'x'"),
        C("query", "{sss}", "8:8:8:8:16", "--dataset", "digits", "--hp", "12", "--surrogate",
          "--seed", "777", expect="seed"),
    ],
    "surrogate": [
        C("surrogate", expect="required"),
        C("surrogate", "nofit", expect="nofit"),
    ],
    "surrogate fit": [
        C("surrogate", "fit", "{missing}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", expect="does not exist"),
        C("surrogate", "fit", "{file}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", expect="file.txt"),
        C("surrogate", "fit", "{tss}", "--dataset", "nodata", "--hp", "12", "--metric",
          "x-valid_acc1", expect="nodata"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "", "--metric",
          "x-valid_acc1", expect="hp"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric", "nometric",
          expect="nometric"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric", "",
          expect="metric"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric", ",",
          expect="metric"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", "--epoch", HUGE, expect=HUGE),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", "--holdout", "-0.5", expect="-0.5"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", "--holdout", "1.5", expect="1.5"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", "--holdout", "nan", expect="nan"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", "--seed", "-1", expect="-1"),
        C("surrogate", "fit", "{tss}", "--dataset", "digits", "--hp", "12", "--metric",
          "x-valid_acc1", "--model", "nomodel", expect="nomodel"),
    ],
    "train": [
        C("train", "|bad|", "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          expect="|bad|"),
        C("train", "", "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          expect="''"),
        C("train", "8:8:8:8:8", "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          expect="8:8:8:8:8"),
        C("train", "8:8:8:8:9", "--space", "sss", "--dataset", "digits", "--hp", "90", "--seed", "1",
          expect="9"),
        C("train", TSS_ARCH, "--space", "nospace", "--dataset", "digits", "--hp", "12", "--seed", "1",
          expect="nospace"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "nodata", "--hp", "12", "--seed", "1",
          expect="nodata"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "", "--seed", "1",
          expect="hp"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "7", "--seed", "1",
          expect="'7'"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--protocol", "H9",
          "--seed", "1", expect="h9"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--protocol", "",
          "--seed", "1", expect="''"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--protocol", "H0:epochs=-1",
          "--seed", "1", expect="-1"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--protocol", "H0:nofield=1",
          "--seed", "1", expect="nofield"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "-1",
          expect="-1"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--image-size", "0", expect="0"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--image-size", HUGE, expect=HUGE),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--threads", "0", expect="0"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--device", "nodevice", expect="nodevice"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--store", "{file}", expect="file.txt"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--checkpoint-dir", "{file}", expect="file.txt"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "cifar10", "--hp", "12", "--seed", "1",
          "--data-root", "{missing}", "--store", "{out}", expect="missing"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--split-file", "{missing}", expect="missing"),
        C("train", TSS_ARCH, "--space", "tss", "--dataset", "digits", "--hp", "12", "--seed", "1",
          "--split-file", "{dir}", expect="dir"),
    ],
    "build": [
        C("build", "--space", "nospace", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          expect="nospace"),
        C("build", "--space", "tss", "--dataset", "nodata", "--protocol", "H0", "--store", "{out}",
          expect="nodata"),
        C("build", "--space", "tss", "--dataset", "", "--protocol", "H0", "--store", "{out}",
          expect="''"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H9", "--store", "{out}",
          expect="h9"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0:epochs=-1",
          "--store", "{out}", expect="-1"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--seeds", "",
          "--store", "{out}", expect="seed"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--seeds", "-1",
          "--store", "{out}", expect="-1"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{file}",
          expect="file.txt"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "",
          expect="''"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", "sample:0", expect="got 0"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", "sample:-3", expect="-3"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", f"sample:{HUGE}", expect=HUGE),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", "noarchs", expect="noarchs"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", "{dir}", expect="dir"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", "{file}", expect="file.txt"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--archs", "", expect="''"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--workers", "0", expect="0"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--workers", "-2", expect="-2"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--limit", "-1", expect="-1"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--model", "C=-4", expect="-4"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--model", "nokey=1", expect="nokey"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--image-size", "-16", expect="-16"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--threads-per-job", "0", expect="0"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--extcell-k", "4", expect="'k'"),
        C("build", "--space", "extcell", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--extcell-k", "-1", expect="-1"),
        C("build", "--space", "tss", "--dataset", "digits", "--protocol", "H0", "--store", "{out}",
          "--device", "nodevice", expect="nodevice"),
        C("build", "--space", "tss", "--dataset", "cifar10", "--protocol", "H0", "--store", "{out}",
          "--data-root", "{missing}", expect="missing"),
    ],
    "extcell-edf": [
        C("extcell-edf", "{missing}", "--out", "{out}", expect="does not exist"),
        C("extcell-edf", "{file}", "--out", "{out}", expect="file.txt"),
        C("extcell-edf", "{dir}", "--out", "{out}", expect="manifest"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--group", "a", "--group", "b", expect="group"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--dataset", "nodata", expect="nodata"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--hp", "", expect="hp"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--set", "noset", expect="noset"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--epoch", HUGE, expect=HUGE),
        C("extcell-edf", "{darts}", "--out", "{out}", "--bins", "0", expect="0"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--grid", "0", "100", "0", expect="0"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--grid", "0", "nan", "10", expect="nan"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--params-range", "5", "1", expect="5"),
        C("extcell-edf", "{darts}", "--out", "{out}", "--reference", "nogroup", expect="nogroup"),
        C("extcell-edf", "{darts}", "--out", "{dir}", expect="dir"),
        C("extcell-edf", "{darts}", "--out", "", expect="''"),
    ],
    "search": [
        C("search", "noalgo", "--bench", "{tss}", "--out", "{out}", expect="noalgo"),
        C("search", "random", "--bench", "{missing}", "--out", "{out}", expect="does not exist"),
        C("search", "random", "--bench", "{file}", "--out", "{out}", expect="file.txt"),
        C("search", "random", "--bench", "{dir}", "--out", "{out}", expect="neither"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--space", "sss", expect="sss"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--dataset", "nodata",
          expect="nodata"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--dataset", "", expect="''"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--runs", "0", expect="0"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--runs", "-5", expect="-5"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--budget", "-1", expect="-1"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--budget", "nan", expect="nan"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--budget", "1e999", expect="inf"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--max-evals", "0", expect="0"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--workers", "0", expect="0"),
        C("search", "random", "--bench", "{tss}", "--out", "{out}", "--seed", "-1", expect="-1"),
        C("search", "rea", "--bench", "{tss}", "--out", "{out}", "--param", "population_size",
          expect="population_size"),
        C("search", "rea", "--bench", "{tss}", "--out", "{out}", "--param", "=3", expect="=3"),
        C("search", "rea", "--bench", "{tss}", "--out", "{out}", "--param", "population_size=abc",
          expect="abc"),
        C("search", "rea", "--bench", "{tss}", "--out", "{out}", "--param", "population_size=2.5",
          expect="2.5"),
        C("search", "rea", "--bench", "{tss}", "--out", "{out}", "--param", "population_size=0",
          expect="population_size"),
        C("search", "rea", "--bench", "{tss}", "--out", "{out}", "--param", "nothing=1",
          expect="nothing"),
        C("search", "all", "--bench", "{tss}", "--out", "{out}", "--algorithms", "noalgo",
          expect="noalgo"),
        C("search", "random", "--bench", "{tss}", "--out", "{dir}", expect="dir"),
        C("search", "random", "--bench", "{tss}", "--out", "", expect="''"),
    ],
    "proxy-data": [
        C("proxy-data", "--dataset", "nodata", "--selection", "p1", "--size", "10",
          "--out", "{out}", expect="nodata"),
        C("proxy-data", "--dataset", "digits", "--selection", "p9", "--size", "10",
          "--out", "{out}", expect="p9"),
        C("proxy-data", "--dataset", "digits", "--selection", "random", "--size", "1",
          "--out", "{out}", expect="k=1"),
        C("proxy-data", "--dataset", "digits", "--selection", "random", "--size", HUGE,
          "--out", "{out}", expect="1297"),
        C("proxy-data", "--dataset", "digits", "--selection", "random", "--size", "1.5",
          "--out", "{out}", expect="1.5"),
        C("proxy-data", "--dataset", "digits", "--selection", "random", "--size", "ten",
          "--out", "{out}", expect="ten"),
        C("proxy-data", "--dataset", "digits", "--selection", "tails", "--size", "10",
          "--beta", "1.5", "--out", "{out}", expect="1.5"),
        C("proxy-data", "--dataset", "digits", "--selection", "p1", "--size", "10",
          "--bin-width", "0", "--out", "{out}", expect="bin-width"),
        C("proxy-data", "--dataset", "digits", "--selection", "p1", "--size", "10",
          "--aux-epochs", "0", "--out", "{out}", expect="aux epochs"),
        C("proxy-data", "--dataset", "digits", "--selection", "random", "--size", "10",
          "--seed", "-1", "--out", "{out}", expect="-1"),
        C("proxy-data", "--dataset", "cifar10", "--selection", "random", "--size", "10",
          "--data-root", "{missing}", "--out", "{out}", expect="does not exist"),
        C("proxy-data", "--dataset", "digits", "--selection", "random", "--size", "10",
          "--out", "{dir}", expect="dir"),
    ],
    "search-ws": [
        C("search-ws", "noalgo", "--out", "{out}", expect="noalgo"),
        C("search-ws", "gdas", "--out", "{out}", "--config", "nope", expect="nope"),
        C("search-ws", "gdas", "--out", "{out}", "--seeds", "abc", expect="abc"),
        C("search-ws", "gdas", "--out", "{out}", "--seeds", ",", expect="no seed"),
        C("search-ws", "gdas", "--out", "{out}", "--seeds", "-3", expect="-3"),
        C("search-ws", "gdas", "--out", "{out}", "--epochs", "0", expect="0"),
        C("search-ws", "gdas", "--out", "{out}", "--epochs", HUGE, expect=HUGE),
        C("search-ws", "gdas", "--out", "{out}", "--workers", "0", expect="0"),
        C("search-ws", "gdas", "--out", "{out}", "--threads", "-1", expect="-1"),
        C("search-ws", "gdas", "--out", "{out}", "--dataset", "nodata", expect="nodata"),
        C("search-ws", "gdas", "--out", "{out}", "--bench", "{missing}", expect="does not exist"),
        C("search-ws", "gdas", "--out", "{out}", "--bench", "{file}", expect="file.txt"),
        C("search-ws", "gdas", "--out", "{out}", "--data-root", "{missing}", expect="does not exist"),
        C("search-ws", "gdas", "--out", "{out}", "--split-file", "{dir}", expect="directory"),
        C("search-ws", "gdas", "--out", "{dir}", expect="dir"),
        C("search-ws", "gdas", "--out", "", expect="''"),
        C("search-ws", "gdas", "--out", "{out}", "--space", "sss", expect="tas, fbnetv2, tunas"),
        C("search-ws", "gdas", "--out", "{out}", "--space", "nospace", expect="nospace"),
        C("search-ws", "tas", "--out", "{out}", expect="does not search space 'tss'"),
        C("search-ws", "gdas", "--out", "{out}", "--warmup-ratio", "0.3", expect="tas, fbnetv2, tunas"),
        C("search-ws", "tas", "--space", "sss", "--out", "{out}", "--warmup-ratio", "1.0", expect="1.0"),
        C("search-ws", "tas", "--space", "sss", "--out", "{out}", "--warmup-ratio", "-0.1", expect="-0.1"),
        C("search-ws", "tunas", "--space", "sss", "--out", "{out}", "--flops-target", "5",
          expect="tas"),
        C("search-ws", "tas", "--space", "sss", "--out", "{out}", "--flops-target", "0", expect="0"),
        C("search-ws", "tas", "--space", "sss", "--out", "{out}", "--bench", "{tss}",
          expect="benchmark space 'tss' is not 'sss'"),
        C("search-ws", "gdas", "--out", "{out}", "--on-missing", "guess", expect="guess"),
        C("search-ws", "gdas", "--out", "{out}", "--proxy-data", "{missing}", expect="does not exist"),
        C("search-ws", "gdas", "--out", "{out}", "--proxy-data", "{file}", expect="not json"),
        C("search-ws", "gdas", "--out", "{out}", "--proxy-data", "{table}", expect="not json"),
        C("search-ws", "rsps", "--config", "noconfig", "--out", "{out}", expect="noconfig"),
        C("search-ws", "rsps", "--seeds", "x", "--out", "{out}", expect="'x'"),
        C("search-ws", "rsps", "--seeds", ",", "--out", "{out}", expect="--seeds"),
        C("search-ws", "rsps", "--seeds", "1", "--epochs", "0", "--out", "{out}", expect="0"),
        C("search-ws", "rsps", "--seeds", "1", "--workers", "0", "--out", "{out}", expect="0"),
        C("search-ws", "rsps", "--seeds", "1", "--bench", "{missing}", "--out", "{out}",
          expect="does not exist"),
        C("search-ws", "rsps", "--seeds", "1", "--bench", "{tss}", "--dataset", "nodata",
          "--out", "{out}", expect="nodata"),
    ],
    "dash": [
        C("dash", "notask", "--out", "{out}", expect="notask"),
        C("dash", "", "--out", "{out}", expect="''"),
        C("dash", "digits", "--out", "{file}", expect="file.txt"),
        C("dash", "digits", "--out", "", expect="''"),
        C("dash", "digits", "--out", "{out}", "--stage", "nostage", expect="nostage"),
        C("dash", "digits", "--out", "{out}", "--preset", "huge", expect="huge"),
        C("dash", "digits", "--out", "{out}", "--mode", "slow", expect="slow"),
        C("dash", "digits", "--out", "{out}", "--search-epochs", "0", expect="0"),
        C("dash", "digits", "--out", "{out}", "--retrain-epochs", "-2", expect="-2"),
        C("dash", "digits", "--out", "{out}", "--hpo-epochs", HUGE, expect=HUGE),
        C("dash", "digits", "--out", "{out}", "--seed", "-1", expect="-1"),
        C("dash", "digits", "--out", "{out}", "--threads", "0", expect="0"),
        C("dash", "digits", "--out", "{out}", "--device", "tpu", expect="tpu"),
        C("dash", "digits", "--out", "{out}", "--stage", "search", "--baseline",
          expect="--baseline"),
        C("dash", "deepsea", "--out", "{out}", expect="--data-root"),
        C("dash", "deepsea", "--out", "{out}", "--data-root", "{missing}", expect="does not exist"),
        C("dash", "deepsea", "--out", "{out}", "--data-root", "{file}", expect="file.txt"),
        C("dash", "deepsea", "--out", "{out}", "--data-root", "{dir}",
          expect="deepsea_filtered.npz"),
        C("dash", "fsd50k", "--out", "{out}", "--data-root", "{dir}",
          expect="chunks/{tr,val,eval}.csv"),
        C("dash", "digits", "--out", "{out}", "--stage", "hpo", expect="--stage search"),
        C("dash", "digits", "--out", "{out}", "--proxy-data", "{missing}", expect="does not exist"),
        C("dash", "digits", "--out", "{out}", "--proxy-data", "{table}", expect="not json"),
        C("dash", "fsd50k", "--out", "{out}", "--data-root", "{dir}", "--feature-cache",
          "{file}", expect="file.txt"),
        C("dash", "digits", "--out", "{out}", "--feature-cache", "{dir}",
          expect="computes no features"),
        C("dash", "digits", "--out", "{out}", "--out-of-core", "maybe", expect="maybe"),
    ],
    "d2nas": [
        C("d2nas", "notask", "--out", "{out}", expect="notask"),
        C("d2nas", "", "--out", "{out}", expect="''"),
        C("d2nas", "digits", "--out", "{file}", expect="file.txt"),
        C("d2nas", "digits", "--out", "", expect="''"),
        C("d2nas", "digits", "--out", "{out}", "--stage", "nostage", expect="nostage"),
        C("d2nas", "digits", "--out", "{out}", "--config", "fancy", expect="fancy"),
        C("d2nas", "digits", "--out", "{out}", "--preset", "huge", expect="huge"),
        C("d2nas", "digits", "--out", "{out}", "--cell-epochs", "0", expect="0"),
        C("d2nas", "digits", "--out", "{out}", "--kernel-epochs", "-2", expect="-2"),
        C("d2nas", "digits", "--out", "{out}", "--retrain-epochs", HUGE, expect=HUGE),
        C("d2nas", "digits", "--out", "{out}", "--seed", "-1", expect="-1"),
        C("d2nas", "digits", "--out", "{out}", "--threads", "0", expect="0"),
        C("d2nas", "digits", "--out", "{out}", "--device", "tpu", expect="tpu"),
        C("d2nas", "deepsea", "--out", "{out}", expect="--data-root"),
        C("d2nas", "deepsea", "--out", "{out}", "--data-root", "{missing}", expect="does not exist"),
        C("d2nas", "digits", "--out", "{out}", "--stage", "kernel", expect="--stage cell"),
        C("d2nas", "digits", "--out", "{out}", "--proxy-data", "{missing}", expect="does not exist"),
        C("d2nas", "digits", "--out", "{out}", "--proxy-data", "{table}", expect="not json"),
        C("d2nas", "fsd50k", "--out", "{out}", "--data-root", "{dir}", "--feature-cache",
          "{file}", expect="file.txt"),
        C("d2nas", "digits", "--out", "{out}", "--feature-cache", "{dir}",
          expect="computes no features"),
        C("d2nas", "digits", "--out", "{out}", "--out-of-core", "maybe", expect="maybe"),
    ],
    "btnas": [
        C("btnas", "--out", "{out}", "--k", "11", expect="11"),
        C("btnas", "--out", "{out}", "--strength", "pr-darts", expect="pr-darts"),
        C("btnas", "--out", "{out}", "--derivation", "argmax", expect="argmax"),
        C("btnas", "--out", "{out}", "--seed", "-1", expect="-1"),
        C("btnas", "--out", "{out}", "--epochs", "0", expect="0"),
        C("btnas", "--out", "{out}", "--threads", "0", expect="0"),
        C("btnas", "--out", "{out}", "--kl-weight", "nan", expect="nan"),
        C("btnas", "--out", "{out}", "--kl-weight", "-1", expect="-1"),
        C("btnas", "--out", "{out}", "--bench", "{missing}", expect="does not exist"),
        C("btnas", "--out", "{out}", "--bench", "{file}", expect="file.txt"),
        C("btnas", "--out", "{out}", "--bench", "{tss}", expect="tss"),
        C("btnas", "--out", "{out}", "--dataset", "nodata", expect="nodata"),
        C("btnas", "--out", "{file}", expect="file.txt"),
        C("btnas", "--out", "", expect="''"),
        C("btnas", "--out", "{out}", "--proxy-data", "{missing}", expect="does not exist"),
        C("btnas", "--out", "{out}", "--proxy-data", "{file}", expect="not json"),
    ],
    "reproduce": [
        C("reproduce", "noreproduction", expect="noreproduction"),
    ],
    "reproduce na-table-3-1": [
        C("reproduce", "na-table-3-1", "--out", "{out}", "--rows", "{missing}", expect="missing"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--rows", "{table}", expect="selection"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--rows", "{table}", "--seeds", "1",
          expect="--seeds"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--sizes", "1", expect="k=1"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--sizes", ",", expect="no size"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--selections", "p9", expect="p9"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--seeds", "x", expect="'x'"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--epochs", "0", expect="0"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--algorithm", "noalgo", expect="noalgo"),
        C("reproduce", "na-table-3-1", "--out", "{out}", "--workers", "0", expect="0"),
    ],
    "reproduce nb360-profile": [
        C("reproduce", "nb360-profile", "--out", "{out}", "--errors", "{missing}", expect="missing"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--errors", "{dir}", expect="dir"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--errors", "{file}", expect="file.txt"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--num", "0", expect="0"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--num", "-3", expect="-3"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--num", HUGE, expect=HUGE),
        C("reproduce", "nb360-profile", "--out", "{out}", "--tau-max-linear", "0.5", expect="0.5"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--tau-max-linear", "nan", expect="nan"),
        C("reproduce", "nb360-profile", "--out", "{file}", expect="file.txt"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--with", "{missing}", expect="missing"),
        C("reproduce", "nb360-profile", "--out", "{out}", "--with", "{dir}", expect="dir"),
    ],
    "reproduce nats-analysis": [
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{missing}", expect="does not exist"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{file}", expect="file.txt"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{dir}", expect="dir"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--datasets", "nodata",
          expect="nodata"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--hp", "", expect="hp"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--hp", "7", expect="'7'"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--reference", "nodata",
          expect="nodata"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--fractions", "0",
          expect="0"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--fractions", "1.5",
          expect="1.5"),
        C("reproduce", "nats-analysis", "--out", "{out}", "--bench", "{tss}", "--methods", "nomethod",
          expect="nomethod"),
        C("reproduce", "nats-analysis", "--out", "{file}", "--bench", "{tss}", expect="file.txt"),
    ],
    "reproduce nats-multitrial": [
        C("reproduce", "nats-multitrial", "--out", "{out}", "--runs", "{missing}", expect="missing"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--runs", "{dir}", expect="dir"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--runs", "{file}", expect="file.txt"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--runs", "{table}", expect="column"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--bench", "{missing}", expect="does not exist"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--bench", "{tss}", "--dataset", "nodata",
          expect="nodata"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--bench", "{tss}", "--num-runs", "0",
          expect="0"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--bench", "{tss}", "--num-runs", "-1",
          expect="-1"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--bench", "{tss}", "--time-step", "-1",
          expect="-1"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--bench", "{tss}", "--max-time", "-1",
          expect="-1"),
        C("reproduce", "nats-multitrial", "--out", "{out}", "--x", "nox", expect="nox"),
        C("reproduce", "nats-multitrial", "--out", "{file}", "--bench", "{tss}", expect="file.txt"),
    ],
    "reproduce nats-weightsharing": [
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--rows", "{missing}", expect="missing"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--rows", "{dir}", expect="dir"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--rows", "{file}", expect="file.txt"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--rows", "{table}", expect="reported"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--warmup-ratio", "1.5", expect="1.5"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--on-missing", "guess", expect="guess"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--band", "noband", expect="noband"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--algorithms", "noalgo", expect="noalgo"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--algorithms", ",", expect="darts-v1"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--seeds", "x", expect="'x'"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--seeds", ",", expect="--seeds"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--seeds", "", expect="--seeds"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--algorithms", "", expect="''"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--seeds", "1,1", expect="1,1"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--epochs", "0", expect="0"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--epochs", HUGE, expect=HUGE),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--workers", "0", expect="0"),
        C("reproduce", "nats-weightsharing", "--out", "{file}", "--rows", "{table}", expect="file.txt"),
        C("reproduce", "nats-weightsharing", "--out", "{out}", "--rows", "{table}", "--epochs", "3",
          expect="--epochs"),
    ],
    "reproduce extcell-edf": [
        C("reproduce", "extcell-edf", "--out", "{out}", "--table", "{missing}", expect="missing"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--table", "{dir}", expect="dir"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--table", "{file}", expect="file.txt"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--table", "{table}", expect="group"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--reference-group", "nogroup", expect="nogroup"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--bins", "0", expect="0"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--n-boot", "-1", expect="-1"),
        C("reproduce", "extcell-edf", "--out", "{out}", "--n-boot", HUGE, expect=HUGE),
        C("reproduce", "extcell-edf", "--out", "{out}", "--seed", "-1", expect="-1"),
        C("reproduce", "extcell-edf", "--out", "{file}", expect="file.txt"),
    ],
    "reproduce na-table-4-2": [
        C("reproduce", "na-table-4-2", "--out", "{out}", "--cells", "{missing}", expect="missing"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--cells", "{dir}", expect="dir"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--cells", "{table}", expect="strength"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--strengths", "pr-darts", expect="pr-darts"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--ks", "11", expect="11"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--ks", "x", expect="'x'"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--seeds", "abc", expect="abc"),
        C("reproduce", "na-table-4-2", "--out", "{out}", "--epochs", "0", expect="0"),
        C("reproduce", "na-table-4-2", "--out", "{file}", expect="file.txt"),
    ],
    "report": [
        C("report", "--out", "{file}", expect="file.txt"),
        C("report", "--out", "", expect="''"),
        C("report", "--out", "{out}", "--results", "{missing}", expect="missing"),
        C("report", "--out", "{out}", "--results", "{file}", expect="file.txt"),
        C("report", "--out", "{out}", "--results", "{dir}", "--max-rows", "-1", expect="-1"),
    ],
    "demo": [
        C("demo", "--out", "{file}", expect="file.txt"),
        C("demo", "--out", "", expect="''"),
        C("demo", "--out", "{out}", "--runs", "0", expect="0"),
        C("demo", "--out", "{out}", "--runs", "-1", expect="-1"),
        C("demo", "--out", "{out}", "--bench", "{missing}", expect="missing"),
        C("demo", "--out", "{out}", "--bench", "{file}", expect="file.txt"),
        C("demo", "--out", "{out}", "--sss-bench", "{missing}", expect="missing"),
        C("demo", "--out", "{out}", "--extcell-table", "{missing}", expect="missing"),
        C("demo", "--out", "{out}", "--extcell-table", "{dir}", expect="dir"),
    ],
}


def _command_names() -> list[str]:
    return [" ".join(words) for words, _ in iter_commands(build_parser())]


def test_every_sub_command_has_malformed_argument_cases() -> None:
    names = _command_names()
    assert {"query", "surrogate fit", "reproduce nb360-profile", "demo"} <= set(names)
    missing = [n for n in names if not CASES.get(n)]
    assert not missing, f"sub-commands without malformed-argument cases in CASES: {missing}"
    stale = sorted(set(CASES) - set(names))
    assert not stale, f"CASES names sub-commands the CLI does not have: {stale}"


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path]:
    """The placeholders of :data:`CASES`: copies of the bundled benchmarks (so a case that
    writes by mistake is seen, not the repository changed), a missing path, a plain file, an
    empty directory, a directory with a broken manifest and two small tables."""
    root = tmp_path_factory.mktemp("cli-errors")
    tss, sss, darts = root / "tss-digits", root / "sss-digits", root / "darts"
    shutil.copytree(BUNDLED / "tss-digits", tss)
    shutil.copytree(BUNDLED / "sss-digits", sss)
    shutil.copytree(BUNDLED / "extcell" / "darts", darts)
    (root / "file.txt").write_text("not a benchmark, not a table\n")
    (root / "dir").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{ not json")
    (root / "table.csv").write_text(f"arch,x-valid_acc1\n{TSS_ARCH},50.0\n")
    (root / "bad_table.csv").write_text("arch,x-valid_acc1\n|bad|,50.0\n")
    return {"tss": tss, "sss": sss, "darts": darts, "missing": root / "missing",
            "file": root / "file.txt", "dir": root / "dir", "broken": root / "broken",
            "table": root / "table.csv", "bad_table": root / "bad_table.csv"}


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*"))}


ALL_CASES = [pytest.param(name, case, id=f"{name}: {case}") for name, cases in CASES.items()
             for case in cases]


@pytest.mark.parametrize("name, case", ALL_CASES)
def test_malformed_arguments_exit_2_with_one_clean_line(name, case, paths, tmp_path, capsys,
                                                       monkeypatch) -> None:
    monkeypatch.setenv("NATSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)                      # default output folders land here
    out = tmp_path / "out"
    fill = {**{k: str(v) for k, v in paths.items()}, "out": str(out)}
    argv = [a.format(**fill) for a in case.argv]
    before = _snapshot(paths["tss"].parent)
    try:
        code = main(argv)
    except SystemExit as exc:                        # argparse usage errors
        code = exc.code
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 2, f"exit {code} for {argv}\n{text}"
    assert "Traceback" not in text
    assert "internal error" not in captured.err, captured.err
    err = captured.err.strip()
    assert err, f"no message on stderr for {argv}"
    last = err.splitlines()[-1]
    assert last.startswith("natsbench"), last       # argparse's `prog: error:` or ours
    assert "error:" in last, last
    assert case.expect.lower() in err.lower(), f"{case.expect!r} not in: {err}"
    assert not out.exists(), f"{argv} left {out} behind"
    assert not (tmp_path / "results").exists() and not (tmp_path / "natsbench-demo").exists()
    assert _snapshot(paths["tss"].parent) == before, f"{argv} changed the fixture files"


# -- internal errors, -v, and the removed silent fallbacks ------------------------------------
def test_an_internal_error_is_one_line_with_a_hint_and_a_traceback_with_v(monkeypatch, capsys) -> None:
    import natsbench.store.commands as store_commands

    def broken(args):
        raise TypeError("an internal fault")

    monkeypatch.setattr(store_commands, "_compact", broken)
    assert main(["compact", "x"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "natsbench compact: internal error: TypeError: an internal fault (rerun with -v for the traceback)"]
    for argv in (["-v", "compact", "x"], ["compact", "x", "-v"]):  # -v before or after the command
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and "in broken" in err and "-v for the traceback" not in err


def test_a_missing_command_module_is_an_error_not_a_dropped_command(monkeypatch, capsys) -> None:
    import natsbench.cli as cli

    monkeypatch.setattr(cli, "COMMAND_PROVIDERS", (*cli.COMMAND_PROVIDERS, "natsbench.no_such_commands"))
    with pytest.raises(ModuleNotFoundError, match="no_such_commands"):
        cli.build_parser()
    assert cli.main(["info", "x"]) == 1
    err = capsys.readouterr().err
    assert "ModuleNotFoundError" in err and "natsbench.no_such_commands" in err and "Traceback" not in err


def test_param_values_are_literals_of_the_hyperparameters_type() -> None:
    from natsbench.errors import ConfigError
    from search_algorithms.base import check_hyperparameters, get_algorithm
    from search_algorithms.commands import _parse_params

    assert _parse_params(["population_size=20", "force_change=True", "betas=(0.5, 0.9)"]) == {
        "population_size": 20, "force_change": True, "betas": (0.5, 0.9)}
    with pytest.raises(ConfigError, match="'2O' is not a Python literal"):  # was silently the text '2O'
        _parse_params(["population_size=2O"])
    rea = get_algorithm("rea")
    check_hyperparameters(rea, {"population_size": 20, "force_change": False})
    with pytest.raises(ConfigError, match=r"population_size=2.5 is a float; expected a int"):
        check_hyperparameters(rea, {"population_size": 2.5})
    with pytest.raises(ConfigError, match="population_size='20'"):
        check_hyperparameters(rea, {"population_size": "20"})
    check_hyperparameters(get_algorithm("reinforce"), {"learning_rate": 1})  # an int is a float


def _tss_bench(root: Path, *, latency: float) -> Path:
    """A tss benchmark with 60 measured archs, 2 epochs; ``latency`` of every run."""
    import numpy as np

    from natsbench.spaces import get_space
    from natsbench.store.writer import GroupBuffer, write_bench

    archs = get_space("tss").all_archs()
    rng = np.random.default_rng(0)
    group = GroupBuffer("digits", "12")
    for i in rng.choice(len(archs), size=60, replace=False).tolist():
        acc = float(rng.uniform(10, 90))
        group.add_run(i, 777, 2, {"train_loss": [2.0, 1.0], "x-valid_acc1": [acc / 2, acc]},
                      {"params": 0.1 + acc / 1000, "flops": 1.0, "latency": latency})
    return write_bench(root / "bench", space="tss", arch_strs=archs, groups=[group],
                       datasets={"digits": {"num_classes": 10, "eval_sets": ["x-valid"]}},
                       arch_order="canonical")


def _untrained(bench_dir: Path) -> int:
    import natsbench

    bench = natsbench.open_bench(bench_dir)
    return int((~bench.evaluated("digits", "12")).nonzero()[0][0])


def test_a_metric_no_surrogate_can_answer_is_reported_not_silently_nan(tmp_path, capsys, caplog) -> None:
    import json
    import math

    bench_dir = _tss_bench(tmp_path, latency=math.nan)      # no run measured its latency
    argv = ["query", str(bench_dir), str(_untrained(bench_dir)), "--dataset", "digits", "--hp", "12",
            "--surrogate"]
    with caplog.at_level(logging.WARNING):
        assert main(argv + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["values"]["latency"] is None and "latency" not in out["predicted"]
    assert "needs >= 2 measured" in out["unanswered"]["latency"]
    assert out["values"]["x-valid_acc1"] is not None and "x-valid_acc1" in out["predicted"]
    assert any("no surrogate answer for latency" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert main(argv) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("latency"))
    assert "n/a" in line and "no surrogate answer" in line


def test_stored_predictions_of_another_epoch_are_not_silently_refitted(tmp_path, capsys, caplog) -> None:
    import numpy as np

    from natsbench.api.surrogate import SurrogateBench
    from natsbench.errors import StoredPredictionsError

    bench_dir = _tss_bench(tmp_path, latency=0.01)
    assert main(["surrogate", "fit", str(bench_dir), "--dataset", "digits", "--hp", "12", "--metric",
                 "x-valid_acc1", "--holdout", "0"]) == 0       # stores the last epoch (1)
    capsys.readouterr()
    index = _untrained(bench_dir)
    with pytest.raises(StoredPredictionsError, match="for epoch 1, not epoch 0.*--refit"):
        SurrogateBench(bench_dir).query("digits", "12", "x-valid_acc1", archs=[index], epoch=0)
    with caplog.at_level(logging.WARNING):
        values, measured = SurrogateBench(bench_dir, use_stored=False).query(
            "digits", "12", "x-valid_acc1", archs=[index], epoch=0)
    assert np.isfinite(values[0]) and not measured[0]
    assert any("fitting a gbt surrogate now" in r.getMessage() for r in caplog.records)

    argv = ["query", str(bench_dir), str(index), "--dataset", "digits", "--hp", "12", "--surrogate",
            "--epoch", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "natsbench query: error: the stored surrogate predictions of x-valid_acc1" in err
    assert main(argv + ["--refit"]) == 0
    assert "x-valid_acc1" in capsys.readouterr().out
    assert main(argv[:-3] + ["--refit"]) == 2                   # --refit without --surrogate
    assert "add --surrogate" in capsys.readouterr().err
