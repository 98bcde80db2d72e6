"""WAV reading (scipy) and log-mel spectrograms written with torch (``torch.stft`` and our own
triangular mel filter bank; no torchaudio or librosa).

The defaults are the features DASH computes for FSD50K (``AudioParser(feature=
"melspectrogram")`` in ``src/data/audio_dataset.py`` of sjunhongshen/DASH, configured by
``load_fsd`` in ``src/data_loaders.py``; facts only, no code copied), which are torchaudio's
``MelSpectrogram`` followed by librosa's ``power_to_db``:

=====================  ===========================  ==========================================
parameter              value                        source
=====================  ===========================  ==========================================
sample rate            22,050 Hz                    ``load_fsd``: ``sample_rate: 22050``; the
                                                    chunks are resampled to it
                                                    (``noise_22050``, ``assert clip_sr == sr``)
minimum length         1 s (22,050 samples), a      ``load_fsd``: ``min_duration: 1``;
                       shorter chunk is tiled       ``load_audio`` tiles (``np.tile``)
FFT size               1,920 (``96 * 20``)          ``MelSpectrogram(n_fft=96 * 20)``
window                 661 samples (``int(22050 *   ``win_length=int(sample_rate * 0.03)``;
                       0.03)``), periodic Hann,     torchaudio's default window (``hann_window``)
                       centred in the FFT frame     zero-padded to ``n_fft`` by ``torch.stft``
hop                    220 samples (``int(22050 *   ``hop_length=int(sample_rate * 0.01)``
                       0.01)``)
framing                centred, reflect padding     torchaudio's defaults (``center=True``,
                       of ``n_fft // 2``            ``pad_mode="reflect"``)
spectrum               power (``|X|^2``), not       torchaudio's default ``power=2.0``,
                       normalised                   ``normalized=False``
mel bands              96, HTK mel scale            ``n_mels=96``; torchaudio's default
                       (``2595 log10(1 + f/700)``), ``mel_scale="htk"``, ``f_min=0``,
                       0 Hz .. 11,025 Hz, triangles ``f_max=sample_rate / 2``, ``norm=None``
                       peaking at 1 (no area
                       normalisation)
decibels               ``10 log10(max(S, 1e-10))``  librosa ``power_to_db`` defaults:
                       with ``ref = 1``, floored    ``ref=1.0``, ``amin=1e-10``, ``top_db=80``
                       at the chunk's maximum
                       minus 80 dB
centering              minus the chunk's mean       ``AudioParser``: ``+= top_db / 2`` (75,
                                                    its ``top_db=150``) then ``-= mean``; the
                                                    constant cancels, so we only subtract
=====================  ===========================  ==========================================

A 1 s chunk gives ``1 + 22050 // 220 = 101`` frames: features ``[96, 101]`` (mel band, frame).
DASH then pads one zero frame on the right (``F.pad(real, (0, 1))``, 102 frames, its
``sample_shape`` ``(1, 1, 96, 102)``); we keep the 101 frames of the spectrogram, the input
size of D2NAS Table 4 and of the task config.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

from natsbench.errors import DatasetError  # noqa: E402

__all__ = ["SAMPLE_RATE", "N_FFT", "WIN_LENGTH", "HOP_LENGTH", "N_MELS", "TOP_DB", "AMIN",
           "MIN_SAMPLES", "hz_to_mel", "mel_to_hz", "mel_filterbank", "log_mel", "read_wav",
           "fit_length", "num_frames", "FEATURES_VERSION", "feature_settings"]

SAMPLE_RATE = 22050                   #: Hz
N_FFT = 96 * 20                       #: 1,920 FFT points (960 Hz / 1,920 = 11.5 Hz bins)
WIN_LENGTH = int(SAMPLE_RATE * 0.03)  #: 661 samples, 30 ms
HOP_LENGTH = int(SAMPLE_RATE * 0.01)  #: 220 samples, 10 ms
N_MELS = 96                           #: mel bands
TOP_DB = 80.0                         #: dynamic range kept below each chunk's maximum (dB)
AMIN = 1e-10                          #: power floor before the logarithm
MIN_SAMPLES = SAMPLE_RATE             #: 1 s: shorter audio is tiled to this length
#: bump when :func:`log_mel` / :func:`fit_length` change what they compute (feature cache key)
FEATURES_VERSION = 1


def feature_settings() -> dict[str, int | float]:
    """The log-mel parameters in force (this module's constants, read at call time): what the
    FSD50K chunk features are computed with and what their cache key holds."""
    return {"version": FEATURES_VERSION, "sample_rate": SAMPLE_RATE, "n_fft": N_FFT,
            "win_length": WIN_LENGTH, "hop_length": HOP_LENGTH, "n_mels": N_MELS,
            "top_db": TOP_DB, "amin": AMIN, "min_samples": MIN_SAMPLES}


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)`` (f in Hz)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (Hz)."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int = N_FFT // 2 + 1, n_mels: int = N_MELS,
                   sample_rate: int = SAMPLE_RATE, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular mel filters ``[n_freqs, n_mels]`` (float32) on the FFT bin frequencies.

    ``n_mels + 2`` edges are equally spaced on the HTK mel scale between ``f_min`` and ``f_max``
    (default ``sample_rate / 2``); filter ``m`` rises linearly in Hz from edge ``m`` (0) to edge
    ``m + 1`` (1) and falls to edge ``m + 2`` (0). Bin ``i`` lies at ``i * (sample_rate / 2) /
    (n_freqs - 1)`` Hz. Filters are not area-normalised (peak 1).
    """
    if n_freqs < 2 or n_mels < 1:
        raise ValueError(f"need n_freqs >= 2 and n_mels >= 1, got {n_freqs}, {n_mels}")
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    freqs = np.linspace(0.0, sample_rate / 2.0, n_freqs)[:, None]               # [F, 1]
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]                   # [M] each
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return torch.from_numpy(np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32))


def num_frames(samples: int, hop_length: int = HOP_LENGTH) -> int:
    """Frames of a centred STFT of ``samples`` samples (``1 + samples // hop``)."""
    return 1 + samples // hop_length


def log_mel(waves: torch.Tensor, *, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
            win_length: int = WIN_LENGTH, hop_length: int = HOP_LENGTH, n_mels: int = N_MELS,
            top_db: float = TOP_DB, amin: float = AMIN,
            filterbank: torch.Tensor | None = None) -> torch.Tensor:
    """Centred log-mel spectrograms of a batch of waveforms.

    Args:
        waves: float ``[B, T]`` samples in [-1, 1] at ``sample_rate``; ``T > n_fft // 2``
            (reflect padding).
        filterbank: ``[n_fft // 2 + 1, n_mels]`` (default :func:`mel_filterbank`).

    Returns:
        float32 ``[B, n_mels, 1 + T // hop_length]``: per example, ``10 log10`` of the mel power
        (floored at ``amin``, then at the example's maximum minus ``top_db``) minus its mean.
    """
    waves = waves.to(torch.float32)
    if waves.dim() != 2:
        raise ValueError(f"waves must be [batch, samples], got shape {tuple(waves.shape)}")
    fb = mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate) if filterbank is None else filterbank
    window = torch.hann_window(win_length, periodic=True, dtype=torch.float32,
                               device=waves.device)
    spec = torch.stft(waves, n_fft, hop_length=hop_length, win_length=win_length, window=window,
                      center=True, pad_mode="reflect", normalized=False, onesided=True,
                      return_complex=True)                                  # [B, F, frames]
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(power.transpose(1, 2), fb.to(waves.device)).transpose(1, 2)  # [B, M, T']
    db = 10.0 * torch.log10(mel.clamp_min(amin))
    floor = db.amax(dim=(1, 2), keepdim=True) - top_db
    db = torch.maximum(db, floor)
    return db - db.mean(dim=(1, 2), keepdim=True)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono samples of a WAV file as float32 in [-1, 1] and its sample rate (Hz).

    Integer PCM is scaled as soundfile does (16-bit by ``1 / 32768``, 32-bit (and scipy's
    left-justified 24-bit) by ``1 / 2^31``, unsigned 8-bit as ``(x - 128) / 128``); float WAVs are
    kept. A file scipy cannot parse, with no samples or more than one channel is a
    :class:`DatasetError` naming it.
    """
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
    except Exception as exc:  # scipy raises ValueError, struct.error, EOFError, OSError, ...
        raise DatasetError(f"{path}: not a readable WAV file ({type(exc).__name__}: {exc})") from exc
    data = np.asarray(data)
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim != 1:
        raise DatasetError(f"{path}: expected mono audio, found {data.shape[1]} channels")
    if data.size == 0:
        raise DatasetError(f"{path}: the WAV file has no samples")
    if data.dtype == np.uint8:
        out = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind == "i":
        out = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype.kind == "f":
        out = data.astype(np.float32)
    else:  # pragma: no cover - scipy returns only the types above
        raise DatasetError(f"{path}: unsupported sample type {data.dtype}")
    if not np.isfinite(out).all():
        raise DatasetError(f"{path}: the WAV file has non-finite samples")
    return out, int(rate)


def fit_length(samples: np.ndarray, length: int = MIN_SAMPLES) -> np.ndarray:
    """``samples`` at exactly ``length``: a shorter signal is tiled (repeated from its start,
    as DASH's ``load_audio`` does), a longer one centre-cropped (the published chunks are all
    1 s; DASH would keep the extra frames)."""
    n = len(samples)
    if n < length:
        return np.tile(samples, math.ceil(length / n))[:length]
    start = (n - length) // 2
    return samples[start:start + length]
