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
import os as _os

from svc._version import __version__

# Float64 results that pick entropy-coder contexts (the feature layer's inter-layer prediction, made
# by MKL's GEMM) must not depend on the thread count: MKL's strict conditional-numerical-reproducibility
# mode makes them independent of it (measured: 1 vs 2 threads differed by ~1e-15 without it, which can
# flip a context and so a decode). It must be set before MKL loads (before torch is imported); a value
# the user set is kept.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
__all__ = ["encode", "decode", "analyze", "info", "__version__"]


def __getattr__(name):
    if name in ("encode", "decode", "analyze", "info", "Frame", "MotRow"):
        from svc import api
        return getattr(api, name)
    raise AttributeError(f"module 'svc' has no attribute {name!r}")
