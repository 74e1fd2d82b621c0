"""The one configuration schema: every key, its type, range and default, in one place.

Frozen dataclasses, one per YAML section. Nothing else in the project spells a default: the
loader (:mod:`svc.config.loader`) validates files and ``--set`` overrides against these classes,
``configs/default.yaml`` is generated from them (``python -m svc config --dump``, checked by a test),
and a stage that needs a variant makes a new object with :func:`dataclasses.replace` instead of
changing the one it was given.

Why dataclasses and not pydantic or OmegaConf: the schema is small, the project already passes
dataclasses around, the standard library keeps the install light, and ``frozen=True`` makes
"no stage changes the config it was given" a property of the type rather than a convention.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field, fields
from typing import ClassVar

from svc.errors import InputError

#: Default ``analytics.classes``: the COCO classes of the objects that move in the 13 SFU-HW-Tracks-v1
#: sequences (people, their bicycles and vehicles, the RaceHorses horses, the basketball) plus the
#: road vehicles of COCO. svc-eval-tracking scores every class a sequence's ground truth holds and names
#: ground-truth classes outside ``analytics.classes`` (they can only be missed).
SFU_TRACK_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck", "horse", "sports ball")

X265_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")


def _describe(meta) -> str:
    kind = meta["kind"]
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
            "names": "a list of names", "mapping": "a mapping"}[kind]
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and hi is not None:
        what += f" in {'(' if meta.get('lo_open') else '['}{lo}, {hi}]"
    elif lo is not None:
        what += f" {'>' if meta.get('lo_open') else '>='} {lo}"
    if meta.get("nullable"):
        what += " or null"
    return what


def check_value(key: str, meta, value, source: str | None):
    """``value`` converted to the field's type, or a one-line InputError naming ``key``."""
    kind = meta["kind"]

    def bad():
        return InputError(f"config key {key} must be {_describe(meta)}, got {value!r}"
                          + (f" ({source})" if source else ""))

    if value is None:
        if meta.get("nullable"):
            return None
        raise bad()
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad()  # NaN passes every comparison and infinity is no setting: both are refused
        if kind == "int":
            if float(value) != int(value):
                raise bad()
            value = int(value)
        lo, hi = meta.get("lo"), meta.get("hi")
        if (lo is not None and (value < lo or (meta.get("lo_open") and value == lo))) or (hi is not None and value > hi):
            raise bad()
        return value
    if kind == "str":
        if value is False and meta.get("choices") and "off" in meta["choices"]:
            value = "off"  # YAML 1.1 reads a bare `off` as false
        if not isinstance(value, str) or (meta.get("choices") and value not in meta["choices"]):
            raise bad()
        return value
    if kind == "names":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad()
        return tuple(value)
    if kind == "mapping":
        if not isinstance(value, dict):
            raise bad()
        return dict(value)
    raise AssertionError(kind)



class Section:
    """Base of the schema classes: every field is validated (and normalised) on construction, so a
    config object, however it was made, never holds a value the schema does not allow."""

    KEY: ClassVar[str] = ""  # the section's dotted path in the configuration (messages name keys by it)

    def __post_init__(self):
        for f in fields(self):
            if f.metadata.get("kind") == "section":
                if not isinstance(getattr(self, f.name), f.default_factory):
                    raise InputError(f"{type(self).__name__}.{f.name} must be a {f.default_factory.__name__}")
                continue
            key = f"{self.KEY}.{f.name}" if self.KEY else f.name
            v = check_value(key, f.metadata, getattr(self, f.name), None)
            object.__setattr__(self, f.name, v)


def option(default, doc: str, *, choices=None, lo=None, hi=None, lo_open: bool = False, kind: str | None = None,
           nullable: bool = False):
    """A schema field: ``doc`` (one line, with units), allowed ``choices`` or range [lo, hi]
    (``lo_open``: lo excluded), ``kind`` overriding the type taken from the default
    (``'float'``, ``'int'``, ``'str'``, ``'bool'``, ``'names'`` = list of strings, ``'mapping'`` = free-form),
    ``nullable``: ``null`` allowed."""
    if kind is None:
        kind = {bool: "bool", int: "int", float: "float", str: "str", dict: "mapping",
                tuple: "names", list: "names"}[type(default)]
    meta = {"doc": doc, "choices": choices, "lo": lo, "hi": hi, "lo_open": lo_open, "kind": kind,
            "nullable": nullable}
    if isinstance(default, (dict, list)):
        frozen = dict(default) if isinstance(default, dict) else tuple(default)
        return field(default_factory=lambda: type(frozen)(frozen), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls, doc: str):
    """A nested section field holding a ``cls`` instance."""
    return field(default_factory=cls, metadata={"doc": doc, "kind": "section"})


@dataclass(frozen=True)
class BaseConfig(Section):
    """HEVC base layer (libx265 through PyAV)."""

    KEY = "base"

    qp: float = option(37, "constant QP of the HEVC base layer, 0..51 (CRF value when rate_control is crf)",
                       lo=0, hi=51, kind="float")
    rate_control: str = option("qp", "qp: constant QP | crf: constant rate factor (needed by roi.method qoffset)",
                               choices=("qp", "crf"))
    preset: str = option("fast", "x265 preset", choices=X265_PRESETS)
    gop: int = option(32, "frames per GOP; each GOP is a closed, independently decodable HEVC GOP (32: measured "
                          "against 16 and 64 in docs/results.md)", lo=1, hi=1024)
    threads: int = option(0, "x265/FFmpeg threads, 0 = let them decide", lo=0, hi=256)
    denoise: float = option(0.0, "joint denoising: the base layer codes the video denoised by non-local means of "
                                 "this strength (about the noise sigma; 0 = off), the enhancement layer "
                                 "reconstructs the noisy original", lo=0.0, hi=100.0)
    x265_params: dict = option({}, "extra x265 parameters, e.g. {bframes: 4, aq-mode: 2}")

    def __post_init__(self):
        super().__post_init__()
        # one spelling per value (37, not 37.0), so headers and x265 parameters are byte-identical
        # whether the QP came from YAML or the command line
        q = float(self.qp)
        object.__setattr__(self, "qp", int(q) if q.is_integer() else q)

    def to_header(self) -> dict:
        """What the container header records about the base layer."""
        out = {"codec": "hevc", "encoder": "libx265", "qp": self.qp, "preset": self.preset,
               "rate_control": self.rate_control, "x265_params": dict(self.x265_params), "gop": self.gop}
        if self.denoise > 0:  # the stream says its base is denoised (svc-info shows it)
            out["denoise"] = {"method": "nlmeans", "strength": self.denoise}
        return out


@dataclass(frozen=True)
class EnhancementConfig(Section):
    """Enhancement layer (for viewing): zero-bit restoration of the base, then the block coder."""

    KEY = "enhancement"

    enabled: bool = option(True, "code the enhancement layer (false: base layer only)")
    quality: float = option(0.35, "0.0 (restoration only, a few bytes per GOP) .. 1.0 (near-transparent); the "
                                  "PSNR moves about evenly with it (from the base's own step down); one coder serves all",
                            lo=0.0, hi=1.0)
    restoration: bool = option(True, "restore the base at zero bits (multi-frame integer CNN) before coding")
    restoration_model: str = option("svc/enhancement/weights/svc-restore-v1.pt",
                                    "restoration weights; a relative path is taken from the project root")
    tables: str = option("svc/enhancement/weights/blockcoder-tables.npz",
                         "the block coder's context tables; a relative path is taken from the project root")
    roi: str = option("off", "ROI-selective enhancement: off | auto (enhance only inside the encoder-side "
                             "detector's boxes of analytics.classes, grown by roi.margin) | a MOT file of regions "
                             "(frames from 1); elsewhere the full layer is the restored base, at no bits")
    temporal: bool = option(True, "predict from the previous full frame moved by decoder-side motion")
    blend: bool = option(True, "also predict from the blend of the restored base and the moved previous frame")
    mv_refine: bool = option(True, "also predict from the previous frame at a coded quarter-pel refinement")
    skip: bool = option(True, "blocks the prediction gets right carry no residual (else every block codes flags)")
    rdoq: bool = option(True, "rate-aware rounding of the residual levels")
    adapt: bool = option(True, "context tables adapt within each GOP to the symbols already coded (noisy or "
                               "unusual content costs what its own statistics say)")
    tiles: int = option(0, "independent tiles of N x N 16x16 blocks (e.g. 4: 64x64 pixels), so a decoder can "
                           "decode a region alone (svc-decode --roi); 0: none (slightly fewer bits)", lo=0, hi=255)


@dataclass(frozen=True)
class RoiConfig(Section):
    """Detector-driven base layer: bits go where objects are."""

    KEY = "roi"

    mode: str = option("off", "off | auto: detector-driven base-layer bit allocation", choices=("off", "auto"))
    method: str = option("blur", "blur: low-pass the background before coding (constant QP kept) | "
                                 "qoffset: x265 per-block QP offsets (switches the base layer to CRF)",
                         choices=("blur", "qoffset"))
    background_scale: float = option(0.125, "blur: background downscaled to this fraction and scaled back",
                                     lo=0.0, hi=1.0, lo_open=True)
    feather: int = option(8, "blur: blend width at box edges (pixels)", lo=0, hi=256)
    margin: float = option(0.15, "boxes grown by this fraction of their size on each side", lo=0.0, hi=4.0)
    temporal: int = option(2, "a frame keeps the boxes of +-this many neighbouring frames of its GOP", lo=0, hi=1024)
    qoffset_roi: float = option(-0.2, "qoffset: FFmpeg ROI qoffset inside boxes (x265: -0.2 * 25 = -5 QP)",
                                lo=-1.0, hi=1.0)
    qoffset_background: float = option(0.12, "qoffset: FFmpeg ROI qoffset outside boxes (+3 QP)", lo=-1.0, hi=1.0)
    min_score: float = option(0.3, "detections below this score do not make regions", lo=0.0, hi=1.0)
    viewer_quality: str = option(
        "match", "with the enhancement layer on: match = each full frame at least as good as the same stream "
                 "without ROI (costs enhancement rate); free = the full layer may lose", choices=("match", "free"))
    max_full_rate_ratio: float = option(
        2.0, "match: a GOP whose two layers would cost more than this times the GOP without ROI is sent "
             "without ROI (null: no limit)", lo=0.0, lo_open=True, nullable=True)


@dataclass(frozen=True)
class TrackerConfig(Section):
    """SORT/ByteTrack-style tracker."""

    KEY = "analytics.tracker"

    iou_threshold: float = option(0.3, "least IoU of a detection-track match", lo=0.0, hi=1.0)
    max_age: int = option(5, "frames a track survives without a match (at least one missed detector run with "
                             "analytics.detect_interval)", lo=0, hi=100000)
    min_hits: int = option(2, "matches before a track is reported", lo=1, hi=100000)
    high_score: float = option(0.5, "detections from this score are matched first and may start tracks",
                               lo=0.0, hi=1.0)
    low_score: float = option(0.1, "detections below this score are ignored", lo=0.0, hi=1.0)
    two_stage: bool = option(True, "ByteTrack's second association stage for low-score detections")


@dataclass(frozen=True)
class AnalyticsConfig(Section):
    """Detection and tracking on the base layer."""

    KEY = "analytics"

    detector: str = option("auto", "detector backend: auto (torchvision / detectron2 when their weights are "
                                   "configured, else the shipped nanodet) | nanodet | opencv | torchvision | detectron2")
    detector_options: dict = option({}, "backend options, e.g. {weights: /models/fasterrcnn.pth}")
    classes: tuple = option(SFU_TRACK_CLASSES, "COCO class names to detect and track, each class on its own "
                                               "(empty: all 80); default: the moving-object classes of "
                                               "SFU-HW-Tracks-v1")
    detect_interval: int = option(3, "run the detector on every k-th frame; tracks coast in between (default 3: "
                                     "measured as accurate as every frame, about 2x faster; tools/bench_analytics.py)",
                                  lo=1, hi=1000)
    coast: str = option("flow", "between detector runs boxes move by optical flow (flow) or the Kalman "
                                "prediction (kalman)", choices=("flow", "kalman"))
    tracker: TrackerConfig = section(TrackerConfig, "tracker")


@dataclass(frozen=True)
class FeaturesConfig(Section):
    """Split-DNN feature layer: NanoDet's front on the original frames, coded for the cloud."""

    KEY = "features"

    enabled: bool = option(False, "code the feature layer (svc-encode --features)")
    pixels: bool = option(True, "also code the pixel layers (base, enhancement); false: a feature-only stream")
    model: str = option("svc/features/weights/nanodet-g-stage2-v4.npz",
                        "feature codec model (split point, quantisers, tables); relative to the project root")
    quantiser: int = option(3, "quantiser id, 0 (finest, most bits) .. 6 (coarsest)", lo=0, hi=255)
    temporal: bool = option(True, "code each frame's indices conditioned on the previous frame's (within a GOP)")
    spatial: bool = option(True, "add what the cells decoded before an index did (neighbours, earlier channel "
                                 "groups) to its context, where the model has the tables (11-15% fewer bits)")
    interlayer: bool = option(False, "code the tensors against the front's tensors of the decoded base layer "
                                     "(needs the pixel layers; the cloud then decodes the base too)")


@dataclass(frozen=True)
class LatentConfig(Section):
    """Learned latent codec (svc-encode --codec latent): a layered latent instead of HEVC + enhancement;
    its base latent serves the detector without pixels, base + enhancement latents the viewer."""

    KEY = "latent"

    enabled: bool = option(False, "code the video with the learned latent codec (svc-encode --codec latent)")
    model: str = option("", "latent codec weights: empty = the shipped default model, else a file path")
    base_quality: float = option(0.5, "rate of the base latent (machines), 0.0 (fewest bits) .. 1.0",
                                 lo=0.0, hi=1.0)
    enh_quality: float = option(0.5, "rate of the enhancement latent (viewers), 0.0 (fewest bits) .. 1.0",
                                lo=0.0, hi=1.0)


@dataclass(frozen=True)
class SvcConfig(Section):
    """The whole configuration: one section per stage."""

    base: BaseConfig = section(BaseConfig, "HEVC base layer")
    enhancement: EnhancementConfig = section(EnhancementConfig, "enhancement layer")
    roi: RoiConfig = section(RoiConfig, "region of interest base layer")
    analytics: AnalyticsConfig = section(AnalyticsConfig, "analytics")
    features: FeaturesConfig = section(FeaturesConfig, "split-DNN feature layer")
    latent: LatentConfig = section(LatentConfig, "learned latent codec")


def schema_fields(cls):
    """The fields of a schema class, in declaration order."""
    return fields(cls)
