"""svc: scalable video coding for humans and machines.

One bitstream, two consumers: an HEVC base layer that analytics (detection, tracking) run on
alone, and a learned enhancement layer that restores full quality for viewers (or the learned latent
codec's base and enhancement latents).

The Python API (:mod:`svc.api`; imported on first use, so ``import svc`` stays light)::

    svc.encode(source, output, **options) -> EncodeSummary
    svc.decode(stream, layer="base"|"full") -> iterator of Frame (.y, .u, .v, .index)
    svc.analyze(stream, **options) -> list of MotRow
    svc.info(stream) -> dict
"""
from svc._version import __version__
__all__ = ["encode", "decode", "analyze", "info", "__version__"]


def __getattr__(name):
    if name in ("encode", "decode", "analyze", "info", "Frame", "MotRow"):
        from svc import api
        return getattr(api, name)
    raise AttributeError(f"module 'svc' has no attribute {name!r}")
