"""``natsbench reproduce nb360-profile --with RESULTS.csv``: the user's rows join both profiles."""
from __future__ import annotations

import pandas as pd
import pytest

from analysis import nb360
from analysis.reproduce import nb360_profile
from natsbench.errors import NatsBenchError


def _rows(tmp_path, text: str):
    path = tmp_path / "mine.csv"
    path.write_text(text)
    return path


def test_user_rows_join_the_profiles(tmp_path):
    # DASH's DeepSEA error is 0.28; ours at 0.14 is the best on DeepSEA, ratio 1 there
    mine = _rows(tmp_path, "method,task,metric,mean\nMine,DeepSEA,1-AUROC,0.14\n")
    res = nb360_profile(tmp_path / "out", with_csv=mine, num=50)
    for key in ("dash_fig4", "d2nas_fig7"):
        table = res.data[key]["table"]
        assert "Mine" in table.columns and table.loc["DeepSEA", "Mine"] == 0.14
        assert table["Mine"].notna().sum() == 1                     # other tasks: not run
        methods = res.data[key]["methods"]
        assert methods.loc["Mine", "best_on"] == 1 and methods.loc["Mine", "tasks_entered"] == 1
        ratios = pd.read_csv(tmp_path / "out" / key / "ratios.csv", index_col=0)
        assert ratios.loc["DeepSEA", "DASH"] == pytest.approx(0.28 / 0.14)
    # the papers' statements are checked on the published rows only: unchanged
    plain = nb360_profile(tmp_path / "plain", num=50)
    pd.testing.assert_frame_equal(res.data["dash_fig4"]["claims"], plain.data["dash_fig4"]["claims"])


@pytest.mark.parametrize("text, match", [
    ("method,task,metric,mean\nMine,NoTask,error_pct,1\n", "NoTask"),
    ("method,task,metric,mean\nMine,ECG,error_pct,1\n", "1-F1"),
    ("method,task,metric,mean\nDASH,ECG,1-F1,0.3\n", "DASH"),
    ("method,task,metric,mean\nMine,ECG,1-F1,0.3\nMine,ECG,1-F1,0.2\n", "duplicated"),
    ("method,task,mean\nMine,ECG,0.3\n", "metric"),
])
def test_bad_user_rows(tmp_path, text, match):
    with pytest.raises(NatsBenchError, match=match):
        nb360.load_user_rows(_rows(tmp_path, text), nb360.load_errors())
