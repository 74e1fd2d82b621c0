"""The latent layers of a stream: the learned latent codec (:class:`svc.latent.codec.LatentCodec`) coding
each frame of a GOP into a base latent (machines: NanoDet's back half runs on the ``stage2`` tensor the
latent transform makes of it, no pixels) and an enhancement latent (viewers: base + enhancement ->
pictures). One GOP record carries two payloads, ``latent_base`` and ``latent_enhancement``, each the
GOP's frames in order::

    per frame:  length u32 (little-endian), then the codec's bytes for that frame

Header entry (``Header.latent``)::

    {"codec": "svc-latent-v1", "model": {"id": ..., "sha256": ...}, "base_quality": 0.5,
     "enh_quality": 0.5, "input_size": 416}
"""
from __future__ import annotations

import struct

from svc.errors import BitstreamError, ModelError

CODEC_ID = "svc-latent-v1"
_LEN = struct.Struct("<I")


def pack_frames(payloads: list[bytes]) -> bytes:
    """One GOP payload of the frames' payloads (each length-prefixed)."""
    return b"".join(_LEN.pack(len(p)) + p for p in payloads)


def unpack_frames(payload: bytes, frame_count: int, what: str, gop_index=None) -> list[bytes]:
    """The frames' payloads of a GOP payload; a BitstreamError unless it holds exactly ``frame_count``."""
    out, at = [], 0
    for _ in range(frame_count):
        if at + 4 > len(payload):
            raise BitstreamError(f"{what} payload holds fewer than the record's {frame_count} frames", gop_index)
        (n,) = _LEN.unpack_from(payload, at)
        at += 4
        if at + n > len(payload):
            raise BitstreamError(f"{what} payload is truncated inside frame {len(out)}", gop_index)
        out.append(payload[at:at + n])
        at += n
    if at != len(payload):
        raise BitstreamError(f"{what} payload has {len(payload) - at} bytes beyond its {frame_count} frames",
                             gop_index)
    return out


class LatentLayer:
    """Encoder and decoders of one stream's latent layers.

    ``codec``: a loaded :class:`~svc.latent.codec.LatentCodec`; ``base_quality`` / ``enh_quality``:
    each layer's rate knob in [0, 1]; ``detector_options``: NanoDet options of the detection side."""

    def __init__(self, codec, base_quality: float = 0.5, enh_quality: float = 0.5,
                 detector_options: dict | None = None):
        self.codec = codec
        self.base_quality = float(base_quality)
        self.enh_quality = float(enh_quality)
        self._detector_options = dict(detector_options or {})
        self._split = None

    def header_info(self) -> dict:
        return {"codec": CODEC_ID, "model": {"id": self.codec.model_id, "sha256": self.codec.sha256},
                "base_quality": self.base_quality, "enh_quality": self.enh_quality,
                "input_size": int(self.split.detector.input_size)}

    @property
    def split(self):
        """NanoDet-g split at ``stage2``: its back half turns the base latent's tensors into boxes."""
        if self._split is None:
            from svc.features.split import SplitDetector
            opts = {k: v for k, v in self._detector_options.items() if k != "runtime"}
            self._split = SplitDetector("stage2", **opts)
        return self._split

    # -- encoder ------------------------------------------------------------------------------------
    def encode_gop(self, frames) -> tuple[bytes, bytes, list]:
        """(base payload, enhancement payload, the full reconstruction a decoder will produce) of a GOP."""
        from svc.io.frames import YuvFrame

        base, enh, recon = [], [], []
        for f in frames:
            b, e = self.codec.encode_frame(f.y, f.u, f.v, self.base_quality, self.enh_quality)
            base.append(b)
            enh.append(e)
            recon.append(YuvFrame(*self.codec.decode_full(b, e)))
        return pack_frames(base), pack_frames(enh), recon

    # -- decoders -----------------------------------------------------------------------------------
    def decode_gop(self, base_payload: bytes, enh_payload: bytes, frame_count: int, gop_index=None) -> list:
        """The pictures of a GOP (base + enhancement latents)."""
        from svc.io.frames import YuvFrame

        base = unpack_frames(base_payload, frame_count, "latent base", gop_index)
        enh = unpack_frames(enh_payload, frame_count, "latent enhancement", gop_index)
        return [YuvFrame(*self._checked(lambda: self.codec.decode_full(b, e), gop_index))
                for b, e in zip(base, enh)]

    def detect_gop(self, base_payload: bytes, fmt, frame_count: int, gop_index=None) -> list:
        """Detections (frame pixels) of each frame of a GOP from its base latents alone."""
        lb = self.split.detector.letterbox(fmt.width, fmt.height)
        tensors = [[self._checked(lambda: self.codec.decode_base_features(b), gop_index)[0].numpy()]
                   for b in unpack_frames(base_payload, frame_count, "latent base", gop_index)]
        return self.split.cloud(tensors, [lb] * len(tensors))

    @staticmethod
    def _checked(decode, gop_index):
        try:
            return decode()
        except BitstreamError as e:
            raise BitstreamError(str(e), gop_index) from None


def _load(model: str | None):
    import warnings

    with warnings.catch_warnings():   # CompressAI's import-time torch.jit.script deprecation notice
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        from svc.latent.codec import LatentCodec
        return LatentCodec.load(model or None)


def load_latent_for_encoding(config) -> LatentLayer:
    """The latent layers of a stream coded with ``config`` (:class:`svc.config.SvcConfig`)."""
    lc = config.latent
    codec = _load(str(_resolve(lc.model)) if lc.model else None)
    return LatentLayer(codec, lc.base_quality, lc.enh_quality, dict(config.analytics.detector_options))


def _resolve(path):
    from svc.config import resolve_path
    return resolve_path(path)


def load_latent_for_decoding(header, detector_options: dict | None = None) -> LatentLayer:
    """The latent layers matching a stream's header: the shipped model it names, checked against its
    SHA-256 (a stream of another model or model version is refused in one line)."""
    from svc.shipped import check_model_id

    info = header.latent
    if not isinstance(info, dict):
        raise ModelError("the stream has no latent layers (code it with svc-encode --codec latent)")
    if info.get("codec") != CODEC_ID:
        raise ModelError(f"the stream's latent layers are {info.get('codec')!r}; this reader reads {CODEC_ID!r}")
    entry = info.get("model")
    if not isinstance(entry, dict) or "sha256" not in entry:
        raise ModelError("the stream's header does not name its latent codec model")
    from svc.latent import zoo
    from svc.shipped import find_shipped

    model_id = check_model_id(entry.get("id"), "latent codec model")
    if model_id in zoo.MODELS and zoo.MODELS[model_id][1] == entry["sha256"]:
        codec = _load(model_id)          # a shipped model (its file's hash checked at load)
    else:                                # a name, found on the model path with the header's SHA-256
        codec = _load(str(find_shipped(entry, "latent codec model", zoo.WEIGHTS_DIR, ".pt")))
    if codec.sha256 != entry["sha256"]:
        raise ModelError(f"the stream was coded with another latent codec model ({model_id!r} sha256 "
                         f"{entry['sha256'][:12]}..., this installation has {codec.sha256[:12]}...)")
    codec.model_id = model_id
    opts = dict(detector_options or {})
    if info.get("input_size"):
        opts["input_size"] = int(info["input_size"])
    return LatentLayer(codec, float(info.get("base_quality", 0.5)), float(info.get("enh_quality", 0.5)), opts)
