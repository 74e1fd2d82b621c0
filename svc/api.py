"""The Python API: the same four operations as the command line, which calls them.

    import svc
    summary = svc.encode("BasketballPass_416x240_50.yuv", "out.svc", qp=37, frames=8, enh_quality=0.5)
    for frame in svc.decode("out.svc", layer="full"):     # Frame: .y, .u, .v numpy planes, .index
        ...
    rows = svc.analyze("out.svc")                          # list of MotRow (frame, id, x, y, w, h, conf, cls)
    info = svc.info("out.svc")                             # what `svc-info --json` prints

Options mirror the commands' long options with ``_`` for ``-`` (``qp=37``, ``enh_quality=0.8``,
``no_enhancement=True``, ``codec="latent"``, ``x265_params="bframes=4"``); ``config=`` is a YAML file
and ``set=`` a mapping or a list of ``KEY=VALUE`` overrides, as ``--config`` and ``--set``. Defaults are
the commands' (one configuration schema, :mod:`svc.config`). Errors are :class:`svc.errors.SvcError`
subclasses with one-line messages.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from svc.errors import InputError

#: encode options (the long options of svc-encode) -> the configuration keys they set
ENCODE_OPTIONS = {
    "qp": "base.qp", "gop": "base.gop", "preset": "base.preset", "enh_quality": "enhancement.quality",
    "roi": "roi.mode", "enh_roi": "enhancement.roi", "enh_tiles": "enhancement.tiles", "denoise": "base.denoise",
}
#: x265 keys svc sets itself: closed GOPs that decode alone, headers in every GOP, one frame thread
RESERVED_X265 = {"keyint", "min-keyint", "scenecut", "open-gop", "repeat-headers", "frame-threads", "qp", "crf",
                 "log-level", "info"}


class Frame(NamedTuple):
    """One decoded picture: 4:2:0 planes ``y`` (H, W), ``u``, ``v`` (H/2, W/2), ``uint8`` (8-bit) or
    ``uint16`` (10-bit), and its display ``index`` in the stream (from 0)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    index: int


class MotRow(NamedTuple):
    """One MOTChallenge row: ``frame`` from 1, track ``id``, box ``x, y, w, h`` in pixels (top-left
    corner and size), ``conf`` in [0, 1], ``cls`` the COCO class id (0 = person)."""

    frame: int
    id: int
    x: float
    y: float
    w: float
    h: float
    conf: float
    cls: int


def parse_x265_params(text) -> dict | None:
    """``k=v:k=v`` (FFmpeg's x265-params syntax) or a mapping, as a mapping; None when not given."""
    if text is None:
        return None
    items = text.items() if isinstance(text, dict) else (i.partition("=")[::2] for i in filter(None, text.split(":")))
    out = {}
    for key, value in items:
        key = str(key).strip()
        if not key or value in (None, ""):
            raise InputError(f"--x265-params takes key=value pairs separated by ':', got {key!r}")
        if key in RESERVED_X265:
            raise InputError(f"--x265-params {key}: svc sets it (closed GOPs, headers per GOP, --qp/--crf); "
                             "use --gop, --qp or --crf")
        out[key] = str(value).strip()
    return out


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_config(config=None, set=None):
    from svc.config import load_config

    if isinstance(set, dict):
        set = [f"{k}={v}" for k, v in set.items()]
    return load_config(config, list(set or []))


def _apply(cfg, pairs):
    from svc.config import apply

    for key, flag, value in pairs:
        if value is not None:
            cfg = apply(cfg, [(key, value)], flag)
    return cfg


def encode_config(config=None, set=None, **options):
    """The :class:`svc.config.SvcConfig` an encode with these options uses (defaults, ``config``, ``set``,
    then the options; a bad value names its option)."""
    known = {*ENCODE_OPTIONS} | {"crf", "x265_params", "no_enhancement", "features", "features_only",
                                      "features_on_base", "codec", "latent_quality"}
    unknown = sorted(k for k, v in options.items() if k not in known and v is not None)
    if unknown:
        raise InputError(f"unknown encode option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    o = {k: options.get(k) for k in known}
    if o["qp"] is not None and o["crf"] is not None:
        raise InputError("--qp and --crf both set the base layer's rate: give one")
    cfg = _base_config(config, set)
    features = True if o["features"] or o["features_only"] or o["features_on_base"] else None
    pairs = [(key, _flag(name), o[name]) for name, key in ENCODE_OPTIONS.items()]
    pairs += [("base.qp", "--crf", o["crf"]), ("base.rate_control", "--crf", "crf" if o["crf"] is not None else None),
              ("base.x265_params", "--x265-params", parse_x265_params(o["x265_params"])),
              ("enhancement.enabled", "--no-enhancement", False if o["no_enhancement"] else None),
              ("features.enabled", "--features", features),
              ("features.pixels", "--features-only", False if o["features_only"] else None),
              ("features.interlayer", "--features-on-base", True if o["features_on_base"] else None),
              ("latent.enabled", "--codec", None if o["codec"] is None else o["codec"] == "latent"),
              ("latent.base_quality", "--latent-quality", o["latent_quality"]),
              ("latent.enh_quality", "--latent-quality", o["latent_quality"])]
    if o["codec"] not in (None, "hevc", "latent"):
        raise InputError(f"--codec must be hevc or latent, got {o['codec']!r}")
    cfg = _apply(cfg, pairs)
    if o["latent_quality"] is not None and not cfg.latent.enabled:
        raise InputError("--latent-quality applies to --codec latent")
    return cfg


def open_frames(source, size=None, fps=None, bit_depth=None, frames=None):
    """A frame source (``.format``, ``.num_frames``, iteration) of ``source``: a path (raw YUV with a
    CTC name or ``size``/``fps``, or any video PyAV reads; ``-`` = stdin), a frame source, or an
    iterable of 4:2:0 frames (objects with ``.y``, ``.u``, ``.v``) with ``fps`` (default 30)."""
    from fractions import Fraction
    from pathlib import Path

    from svc.io import open_source
    from svc.io.frames import VideoFormat, YuvFrame, parse_fps

    if frames is not None and frames < 1:
        raise InputError(f"--frames must be >= 1, got {frames}")
    if isinstance(source, (str, Path)):
        return open_source(str(source), size, fps, bit_depth, frames)
    if hasattr(source, "format") and hasattr(source, "__iter__"):
        return source
    items = [YuvFrame(f.y, f.u, f.v) for f in source]
    if frames is not None:
        items = items[:frames]
    if not items:
        raise InputError("no frames to code")
    h, w = items[0].y.shape
    depth = bit_depth or (8 if items[0].y.dtype == np.uint8 else 10)

    class _Frames:
        format = VideoFormat(w, h, parse_fps(fps) if fps is not None else Fraction(30), depth)
        num_frames = len(items)

        def __iter__(self):
            return iter(items)
    return _Frames()


def encode(source, output, *, size=None, fps=None, bit_depth=None, frames=None, progress=None, config=None,
           set=None, jobs: int = 1, ray: str | None = None, **options):
    """Codes ``source`` (see :func:`open_frames`) into ``output`` (a path, written whole or not at all,
    or a binary file object); returns the :class:`svc.pipeline.encode.EncodeSummary` (bytes, kbps and
    PSNR per layer, speed). ``progress(n)`` is called with each finished GOP's frame count; ``jobs``
    > 1 codes GOPs in that many processes, ``ray`` ("local" or a Ray cluster's address) on Ray actors
    (the same bytes either way); other options as :func:`encode_config`."""
    from svc.io.outputs import output_file
    from svc.pipeline.encoder import Encoder

    cfg = encode_config(config, set, **options)
    src = open_frames(source, size, fps, bit_depth, frames)
    encoder = Encoder.from_config(cfg, src.format)
    if hasattr(output, "write"):
        summary = encoder.encode(src, output, progress=progress, jobs=jobs, ray=ray)
    else:
        with output_file(str(output)) as fh:
            summary = encoder.encode(src, fh, progress=progress, jobs=jobs, ray=ray)
            if summary.frames == 0:
                raise InputError("the source holds no frames")
    if summary.frames == 0:
        raise InputError("the source holds no frames")
    return summary


def _open_stream(stream):
    from pathlib import Path

    if isinstance(stream, (bytes, bytearray)):
        import io
        return io.BytesIO(bytes(stream))
    if isinstance(stream, (str, Path)):
        from svc.io.sources import open_input
        return open_input(str(stream))
    return stream


def decoders():
    """(enhancement loader, latent loader): the learned layers' decoders, imported when a stream needs
    them (module-level functions, so worker processes can load them too; :mod:`svc.pipeline.decoder`)."""
    from svc.pipeline.decoder import load_enhancement, load_latent

    return load_enhancement, load_latent


def decode(stream, layer: str = "base", *, on_error: str = "fail", follow: bool = False, report=None,
           jobs: int = 1, ray: str | None = None) -> Iterator[Frame]:
    """The decoded frames of ``stream`` (a path, bytes or a binary file object) at ``layer`` (``base``:
    what analytics see; ``full``: base + enhancement, or a latent stream's pictures), GOP by GOP as
    records arrive. ``report`` (a :class:`svc.pipeline.decode.DecodeReport`) collects what was skipped
    or lost under ``on_error="skip"``; ``jobs`` > 1 decodes GOPs in that many processes, ``ray`` on Ray
    actors (same frames)."""
    from svc.pipeline.decoder import Decoder

    decoder = Decoder(layer, on_error, jobs, ray)
    reader = decoder.open(_open_stream(stream), follow)
    index = 0
    for dec in decoder.gops(reader, report):
        for f in dec.frames:
            yield Frame(f.y, f.u, f.v, index)
            index += 1


def analyze(stream, *, source: str = "base", classes=None, detector=None, detect_every=None, config=None,
            set=None, on_error: str = "fail", detections: list | None = None, jobs: int = 1,
            ray: str | None = None) -> list[MotRow]:
    """Tracks in ``stream`` as MOT rows, with the defaults of ``svc-analyze`` (its configuration:
    classes, detector, detection interval, tracker). ``source``: ``base`` (the HEVC base layer),
    ``features`` or ``latent`` (no pixels). ``classes``: names or a comma-separated string (``[]``
    or ``""``: all 80); ``detections`` (a list) receives the raw detections as MotRow with id -1;
    ``jobs``/``ray`` (base layer): decode and detect GOPs in workers, the same rows."""
    import io

    from svc.analytics.mot_io import parse_mot
    from svc.pipeline.analyzer import Analyzer
    cfg = _apply(_base_config(config, set), [("analytics.classes", "--classes", classes),
                                             ("analytics.detector", "--detector", detector),
                                             ("analytics.detect_interval", "--detect-every", detect_every)])
    pooled = source == "base" and (jobs > 1 or ray is not None)
    analyzer = Analyzer.from_config(cfg, source, detector=not pooled)
    tracks, dets = io.StringIO(), io.StringIO() if detections is not None else None
    analyzer.analyze(_open_stream(stream), tracks, dets_out=dets, on_error=on_error, jobs=jobs, ray=ray)
    if detections is not None:
        detections.extend(_mot(parse_mot(dets.getvalue())))
    return _mot(parse_mot(tracks.getvalue()))


def _mot(rows: np.ndarray) -> list[MotRow]:
    return [MotRow(int(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[6]), int(r[7]))
            for r in rows]


def info(stream) -> dict:
    """What ``svc-info --json`` prints about ``stream`` (a path, bytes or a binary file object)."""
    from svc.bitstream.info import stream_info

    return stream_info(_open_stream(stream), str(stream) if not hasattr(stream, "read") else "-")
