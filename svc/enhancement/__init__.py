"""Learned enhancement layer (imports torch; never imported by base-only paths).

- :mod:`~svc.enhancement.models`: residual predictor + base-conditioned variable-rate residual codec
- :mod:`~svc.enhancement.vbr`: gain schedule and quantization-reconstruction offsets
- :mod:`~svc.enhancement.codec`: frames <-> per-frame payload bytes
- :mod:`~svc.enhancement.zoo`: shipped weights, identified by model id and SHA-256
- :mod:`~svc.enhancement.train`, :mod:`~svc.enhancement.data`: training on CPU
"""
from svc.enhancement.zoo import load_codec_for_decoding, load_codec_for_encoding, load_model

__all__ = ["load_codec_for_encoding", "load_codec_for_decoding", "load_model"]
