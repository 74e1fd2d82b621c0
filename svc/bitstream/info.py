"""What a stream holds, as plain data (``svc-info``, ``svc.info``): read without decoding, every
payload's CRC checked."""
from __future__ import annotations

from svc.bitstream.container import ContainerReader


def stream_info(fh, name: str = "-") -> dict:
    """What ``svc-info`` reports about a stream (``fh`` a binary file object), as plain data: format,
    each layer kind's header entry, one row per GOP (sizes per layer kind, byte offset), totals (bytes
    and kbps per layer kind) and integrity (``whole`` and the problems). No payload is decoded; every
    payload's CRC is checked."""
    reader = ContainerReader(fh, (), on_error="skip", verify=True)
    h = reader.header
    f = h.format
    kinds = ["latent_base", "latent_enhancement"] if h.latent is not None else ["base", "enhancement", "features"]
    gops, totals, frames, damaged = [], {k: 0 for k in kinds}, 0, []
    for rec in reader:
        damaged += [f"damaged: {m}" for m in rec.errors.values()]
        size = {k: rec.sizes.get(k, 0) for k in kinds}
        gops.append({"index": rec.index, "first_frame": rec.first_frame, "frames": rec.frame_count,
                     "bytes": size, "offset": rec.offset})
        totals = {k: totals[k] + size[k] for k in kinds}
        frames += rec.frame_count
    secs = frames / float(f.fps) if frames else 0.0
    problems = [f"damaged: {e}" for e in reader.errors] + damaged + [x.describe() for x in reader.lost]
    problems += [reader.truncated] if reader.truncated else []
    problems += [reader.describe_trailing()] if reader.trailing else []
    return {"stream": name,
            "format": {"width": f.width, "height": f.height, "chroma": "4:2:0", "bit_depth": f.bit_depth,
                       "fps": float(f.fps), "fps_fraction": f"{f.fps.numerator}/{f.fps.denominator}",
                       "gop_size": h.gop_size},
            "layers": {"base": h.base, "enhancement": h.enhancement, "features": h.features, "latent": h.latent},
            "gops": gops, "frames": frames,
            "totals": {k: {"bytes": v, "kbps": v * 8 / 1000 / secs if secs else 0.0} for k, v in totals.items()},
            "integrity": {"whole": not problems, "problems": problems, "streams": reader.streams}}
