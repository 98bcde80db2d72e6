"""Training protocols H0/H1/H2 (Dong's thesis, Table 5.2) and reduced proxies."""
from __future__ import annotations

import math

import pytest

from natsbench.train.protocol import H0, H1, H2, Protocol, get_protocol, protocol_for_hp


def test_presets_match_table_5_2():
    for preset, epochs, hp in ((H0, 12, "12"), (H1, 200, "200"), (H2, 90, "90")):
        assert preset.epochs == epochs and preset.hp == hp
        assert preset.batch_size == 256 and preset.lr == 0.1 and preset.lr_min == 0.0
        assert preset.momentum == 0.9 and preset.nesterov is True
        assert preset.weight_decay == 0.0005 and preset.label_smoothing == 0.0
        assert preset.flip_prob == 0.5 and preset.crop_padding is None  # dataset's own: 4 / 2
        assert preset.train_fraction == 1.0
    assert get_protocol("h1") is H1 and get_protocol("200") is H1 and protocol_for_hp(90) is H2
    assert protocol_for_hp("12") is H0


def test_cosine_schedule_per_epoch():
    # lr_e = 0.05 * (1 + cos(pi * e / 12)), the official per-epoch cosine
    assert H0.lr_at(0) == pytest.approx(0.1)
    assert H0.lr_at(6) == pytest.approx(0.05)
    assert H0.lr_at(11) == pytest.approx(0.05 * (1 + math.cos(math.pi * 11 / 12)))
    assert H0.lr_at(12) == pytest.approx(0.0, abs=1e-15)


def test_reduced_proxies():
    p = get_protocol("H0:epochs=2,batch_size=64,train_fraction=0.25,nesterov=false")
    assert (p.epochs, p.batch_size, p.train_fraction, p.nesterov) == (2, 64, 0.25, False)
    assert p.hp == p.name == "H0-b64-e2-nest0-t0.25"
    assert p.weight_decay == H0.weight_decay
    q = H0.reduced(epochs=2, batch_size=64, train_fraction=0.25, nesterov=False)
    assert q == p and hash(q) == hash(p)
    assert H0.reduced(epochs=3, hp="custom").hp == "custom"
    assert get_protocol("H2:crop_padding=none") is H2
    assert get_protocol("H0:crop_padding=0").crop_padding == 0
    assert H0.reduced() is H0


def test_invalid_protocols_name_the_problem():
    with pytest.raises(ValueError, match="unknown protocol 'H3'"):
        get_protocol("H3")
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        get_protocol("H0:epochs=0")
    with pytest.raises(ValueError, match="bad protocol override 'foo=1'"):
        get_protocol("H0:foo=1")
    with pytest.raises(ValueError, match="unknown protocol field"):
        H0.reduced(optimizer="adam")
    with pytest.raises(ValueError, match="train_fraction"):
        H0.reduced(train_fraction=1.5)
    with pytest.raises(ValueError, match="no protocol for hp '01'"):
        protocol_for_hp("01")
    with pytest.raises(ValueError, match="lr_step"):
        Protocol(name="x", hp="x", epochs=1, lr_step="batch")
