"""The feature layer of a stream: NanoDet's front (up to the model's split point) runs on the original
frames at the encoder (the edge), its tensors are coded per GOP (:class:`~svc.features.codec.FeatureCodec`);
a cloud reader decodes a record's feature payload and runs the rest of the detector, without pixels.
With ``interlayer`` the tensors are coded against the front's tensors of the decoded base frames
(:mod:`svc.features.interlayer`): both sides then need the base layer's frames of the GOP.

Header entry (``Header.features``)::

    {"codec": "svc-features-v1", "split": "stage2", "quantiser": 3, "temporal": true, "spatial": true,
     "interlayer": false, "input_size": 416, "model": {"id": "nanodet-g-stage2-v4", "sha256": "..."}}

The letterbox of each frame (and so every tensor shape) follows from the stream's frame size and the
detector input size, so the payload carries only the coded tensors.
"""
from __future__ import annotations

from pathlib import Path

from svc.errors import ModelError
from svc.features.codec import WEIGHTS_DIR, FeatureCodec, FeatureModel

CODEC_ID = "svc-features-v1"
EDGE_BATCH = 4  # frames per edge network call


class FeatureLayer:
    """Edge encoder and cloud decoder of one stream's feature layer.

    ``model_path``: a :class:`FeatureModel` file; ``quantiser``: its id (0 finest); ``temporal``:
    conditional coding on the previous frame; ``spatial``: contexts of the decoded neighbours too (where
    the model has their tables); ``threads``: torch threads (None: torch's default);
    ``detector_options``: NanoDet options of the cloud side (scores, NMS, input size); ``interlayer``:
    code against the decoded base layer (the encoder needs each GOP's base frames)."""

    def __init__(self, model_path, quantiser: int = 3, temporal: bool = True, threads: int | None = None,
                 detector_options: dict | None = None, spatial: bool = True, interlayer: bool = False):
        from svc.features.split import SplitDetector
        from svc.shipped import identify

        path = Path(model_path)
        self.model = FeatureModel.load(path)
        if not 0 <= quantiser < len(self.model.quantisers):
            raise ModelError(f"feature quantiser {quantiser} not in 0..{len(self.model.quantisers) - 1} of {path}")
        self.codec = FeatureCodec(self.model, quantiser, temporal, spatial=spatial, interlayer=interlayer)
        self.model_id = identify(path)
        self.split = SplitDetector(self.model.split, threads=threads, **dict(detector_options or {}))
        self._predictor = None

    @property
    def interlayer(self) -> bool:
        """Whether the encoder codes against the base layer."""
        return self.codec.interlayer

    def base_tensors(self, base_frames) -> list:
        """The float64 front tensors of decoded base frames (the inter-layer prediction)."""
        from svc.features.interlayer import BasePredictor

        if self._predictor is None:
            self._predictor = BasePredictor(self.split)
        return self._predictor.features(base_frames)

    @property
    def detector(self):
        """The NanoDet detector whose front and back this layer splits."""
        return self.split.detector

    def header_info(self) -> dict:
        return {"codec": CODEC_ID, "split": self.model.split, "quantiser": self.codec.quantiser,
                "temporal": self.codec.temporal, "spatial": self.codec.spatial, "interlayer": self.codec.interlayer,
                "input_size": int(self.detector.input_size), "model": self.model_id}

    # -- edge ---------------------------------------------------------------------------------------
    def features(self, frames) -> list[list]:
        """The split tensors of each frame (float32 (C, H, W) arrays), batched."""
        out = []
        for i in range(0, len(frames), EDGE_BATCH):
            out += self.split.edge(frames[i:i + EDGE_BATCH])[0]
        return out

    def encode_gop(self, frames, base_frames=None) -> bytes:
        """The feature payload of one GOP of original frames (``base_frames``: the GOP's decoded base
        frames, needed with ``interlayer``)."""
        if self.interlayer and base_frames is None:
            raise ValueError("inter-layer feature coding needs the GOP's decoded base frames")
        base = self.base_tensors(base_frames) if self.interlayer else None
        return self.codec.encode_gop(self.features(frames), base)[0]

    # -- cloud --------------------------------------------------------------------------------------
    def shapes(self, fmt) -> tuple[list, object]:
        """((C, H, W) of each tensor, Letterbox) of a frame of ``fmt``."""
        lb = self.detector.letterbox(fmt.width, fmt.height)
        return self.split.split.shapes(lb.input_w, lb.input_h), lb

    def detect_gop(self, payload: bytes, fmt, frame_count: int, gop_index: int | None = None,
                   base_frames=None) -> list:
        """Detections (frame pixels) of each frame of a GOP from its feature payload (``base_frames``:
        the GOP's decoded base frames, for payloads coded against them)."""
        from svc.errors import BitstreamError

        shapes, lb = self.shapes(fmt)
        base = self.base_tensors(base_frames) if base_frames is not None else None
        feats = self.codec.decode_gop(payload, shapes, gop_index, base)
        if len(feats) != frame_count:
            raise BitstreamError(f"feature payload holds {len(feats)} frames, the record {frame_count}", gop_index)
        out = []
        for i in range(0, len(feats), EDGE_BATCH):
            chunk = feats[i:i + EDGE_BATCH]
            out += self.split.cloud(chunk, [lb] * len(chunk))
        return out


def load_features_for_encoding(config, threads: int | None = None) -> FeatureLayer:
    """The feature layer of a stream coded with ``config`` (:class:`svc.config.SvcConfig`)."""
    from svc.config import resolve_path

    f = config.features
    opts = {k: v for k, v in dict(config.analytics.detector_options).items() if k != "runtime"}
    return FeatureLayer(resolve_path(f.model), f.quantiser, f.temporal, threads, opts, f.spatial, f.interlayer)


def load_features_for_decoding(header, threads: int | None = None, detector_options: dict | None = None
                               ) -> FeatureLayer:
    """The feature layer matching a stream's header; refuses a model whose SHA-256 differs."""
    from svc.shipped import find_shipped

    info = header.features
    if not isinstance(info, dict):
        raise ModelError("the stream has no feature layer (code it with svc-encode --features)")
    if info.get("codec") != CODEC_ID:
        raise ModelError(f"the stream's feature layer is {info.get('codec')!r}; this reader reads {CODEC_ID!r}")
    path = find_shipped(info.get("model"), "feature codec model", WEIGHTS_DIR, ".npz")
    opts = dict(detector_options or {})
    opts.pop("runtime", None)
    if info.get("input_size"):
        opts["input_size"] = int(info["input_size"])
    return FeatureLayer(path, int(info.get("quantiser", 0)), bool(info.get("temporal", True)), threads, opts)
