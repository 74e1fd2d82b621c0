"""Every context of the block enhancement coder, one function each, called by both ends.

The decoder derives each context from what it has already decoded (the restored base, the previous
full frame, the symbols of earlier passes); the encoder calls the same functions on the same inputs,
so a context changed here changes both ends at once. Shapes: ``NB`` 16x16 units per frame, 6
transform units (TUs) per unit (4 luma 8x8, U, V), 64 scan positions per TU.
"""
from __future__ import annotations

import numpy as np

from svc.enhancement import transform as tf

NT = 6                                   # transform units per 16x16 unit: 4 luma, U, V
PLANE_OF_TU = np.array([0, 0, 0, 0, 1, 1])
MODE_I, MODE_R, MODE_F, MODE_B, MODE_D = 0, 1, 2, 3, 4    # context mode ids (intra frame: MODE_I)
INTER_MODE_IDS = np.array([MODE_R, MODE_F, MODE_B, MODE_D])
CUE_THR = np.array([0.5, 1, 2, 4, 8, 16, 32], np.float64)   # cue buckets (sum |coef| / step)
N_CUE = len(CUE_THR) + 1
BAND = np.repeat(np.arange(9), [1, 2, 3, 4, 5, 6, 7, 14, 22])   # scan position -> band
N_BAND = 9
LAST_BUCKET = np.digitize(np.arange(64), [3, 10, 25])              # last position -> bucket
SAD_THR = np.array([1, 128, 512])        # base change along the decoder-side vector (16x16 luma SAD; 0: identical)

# coefficient context = sum of these strides (see entropy.FAMILIES["coef"])
S_CUE, S_LB, S_ISLAST, S_BAND = 1, N_CUE, N_CUE * 4, N_CUE * 4 * 2
S_INTRA = S_BAND * N_BAND
S_PLANE = S_INTRA * 2


def step_per_tu(stepq, stepq_c) -> np.ndarray:
    """(6,) float64: the quantiser step of each TU of a unit (1/16 orthonormal-DCT units)."""
    return np.array([stepq] * 4 + [stepq_c] * 2, np.float64)


def cues(r_tus, f_tus, stepq, stepq_c):
    """(TU cue buckets (NB, 6), unit cue buckets (NB,)) int32: intra frames (``f_tus`` None), the
    restored base's AC energy; inter frames, the energy of R - F. Exact integers compared with exact
    thresholds. ``r_tus``/``f_tus``: (NB, 6, 8, 8) integer samples."""
    if f_tus is None:
        t = np.abs(tf.forward_int(r_tus))
        t[..., 0, 0] = 0
    else:
        t = np.abs(tf.forward_int(r_tus - f_tus))
    s = t.sum(axis=(-2, -1))                                   # (NB, 6), exact
    sq = step_per_tu(stepq, stepq_c)
    # s / (INT_SCALE * stepq / 16) >= thr  <=>  s >= thr * 2048 * stepq
    tu = (s[..., None] >= CUE_THR * 2048.0 * sq[None, :, None]).sum(-1)
    pu = (s[:, :4].sum(1)[:, None] >= CUE_THR * 2048.0 * 4 * stepq).sum(-1)
    return tu.astype(np.int32), pu.astype(np.int32)


def sad_bucket(sad) -> np.ndarray:
    """The base's change along each unit's decoder-side vector (luma SAD), bucketed 0..3."""
    return np.searchsorted(SAD_THR, sad, side="right").astype(np.int32)


def block_intra(cue_pu) -> np.ndarray:
    """Context of an intra frame's block symbol (coded flag): the unit's cue."""
    return cue_pu


def block_inter(prev_sym, cue_pu, sadb) -> np.ndarray:
    """Context of an inter frame's block symbol: the co-located unit's symbol in the previous frame
    (``prev_sym``, 0..9: 8 + flag after an intra frame), the unit's cue and the SAD bucket."""
    return (prev_sym * N_CUE + cue_pu) * 4 + sadb


def tu(mode_id, cue_tu):
    """Context of a TU's coded flag and last position: (plane, mode, cue); broadcasts."""
    return (PLANE_OF_TU * 5 + mode_id) * N_CUE + cue_tu


def tu_flat(tu_idx, mode_id, cue):
    """:func:`tu` for flat lists of TUs (``tu_idx`` 0..5 within the unit)."""
    return (PLANE_OF_TU[tu_idx] * 5 + mode_id) * N_CUE + cue


def coef(plane, intra, band, is_last, last_bucket, cue):
    """Context of a level: plane, frame type (``intra`` a bool or an array of them), band of its scan
    position, whether it is the last one, the TU's last-position bucket and cue; broadcasts."""
    return (plane * S_PLANE + np.asarray(intra, np.int64) * S_INTRA + band * S_BAND + is_last * S_ISLAST
            + last_bucket * S_LB + cue)


def coef_positions(last, tu_idx, cue, intra: bool):
    """Per coded TU (n,) with its last position: the TU of every coded level (index into the n),
    its scan position (0..last) and its context."""
    n = last.size
    cnt = last + 1
    which = np.repeat(np.arange(n), cnt)
    start = np.cumsum(cnt) - cnt
    pos = np.arange(int(cnt.sum())) - np.repeat(start, cnt)
    lt = last[which]
    ctx = coef(PLANE_OF_TU[tu_idx[which]], intra, BAND[pos], pos == lt, LAST_BUCKET[lt], cue[which])
    return which, pos, ctx
