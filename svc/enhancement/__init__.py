"""The enhancement layer (imports numpy, CompressAI's rANS and, for restoration, torch; never imported
by base-only paths).

- :mod:`~svc.enhancement.codec`: one GOP's enhancement: restoration flags + block coder payload
- :mod:`~svc.enhancement.restoration`: zero-bit integer restoration network
- :mod:`~svc.enhancement.blockcodec`: closed-loop inter-coded block coder (prediction, RD decisions)
- :mod:`~svc.enhancement.syntax`, :mod:`~svc.enhancement.context_tables`, :mod:`~svc.enhancement.transform`,
  :mod:`~svc.enhancement.dmotion`: its payload, context-modelled rANS, integer DCT, decoder-side motion
- :mod:`~svc.enhancement.zoo`: shipped weights and tables, identified by id and SHA-256
"""
from svc.enhancement.zoo import load_codec_for_decoding, load_codec_for_encoding

__all__ = ["load_codec_for_encoding", "load_codec_for_decoding"]
