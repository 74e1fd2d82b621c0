"""One result row of a tracking evaluation (one sequence, configuration and QP), typed."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

NAN = float("nan")


@dataclass(frozen=True)
class EvaluationRow:
    """Rates in kbit/s, PSNR in dB, MOT metrics as fractions (MOTA may be negative), counts as ints.

    ``roi_dropped_gops``/``gops``/``psnr_y_full_without_roi`` are set only for ROI points coded with the
    enhancement layer (``roi.viewer_quality: match``). ``qp`` is None for the uncompressed point.
    MOTA ... mAP50 pool the scored classes; ``per_class`` maps each scored COCO class name to its own
    ``{MOTA, IDF1, HOTA, mAP50, IDs, FP, FN, num_objects, tracked}`` (``tracked`` False: the class is
    outside ``analytics.classes``, so its objects can only be missed)."""

    sequence: str
    ctc_class: str
    configuration: str
    qp: int | None
    frames: int
    base_kbps: float = NAN
    full_kbps: float = NAN
    MOTA: float = NAN
    MOTP: float = NAN
    IDF1: float = NAN
    IDs: int = 0
    FP: int = 0
    FN: int = 0
    HOTA: float = NAN
    mAP50: float = NAN
    psnr_y_base: float = NAN
    psnr_y_full: float = NAN
    seconds: float = 0.0
    roi_dropped_gops: int | None = None
    gops: int | None = None
    psnr_y_full_without_roi: float | None = None
    per_class: dict | None = None

    #: CSV/JSON column names in order (``class`` is :attr:`ctc_class`).
    COLUMNS = ("sequence", "class", "configuration", "qp", "frames", "base_kbps", "full_kbps", "MOTA", "MOTP",
               "IDF1", "IDs", "FP", "FN", "HOTA", "mAP50", "psnr_y_base", "psnr_y_full", "seconds")

    def to_dict(self) -> dict:
        """Plain dict for CSV/JSON: ``class`` for :attr:`ctc_class`, ``''`` for a missing QP, optional
        ROI fields only when set."""
        d = dataclasses.asdict(self)
        d["class"] = d.pop("ctc_class")
        d["qp"] = "" if self.qp is None else self.qp
        for k in ("roi_dropped_gops", "gops", "psnr_y_full_without_roi", "per_class"):
            if d[k] is None:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluationRow":
        d = dict(d)
        d["ctc_class"] = d.pop("class")
        d["qp"] = None if d.get("qp") in ("", None) else int(d["qp"])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def value(self, key: str) -> float:
        """A numeric column by name (``nan`` when unset), for reports that choose the metric at run time."""
        v = getattr(self, key)
        return NAN if v is None else float(v)

    @property
    def defined(self) -> bool:
        return not math.isnan(self.MOTA)
