"""Payload bytes of the block enhancement coder (one GOP at a time).

A GOP's enhancement is one rANS string: the encoder decides every frame first (closed loop, in
display order) and entropy-codes the whole GOP at the end, so the 8-byte rANS flush is paid once per
GOP, not per frame. The GOP's bytes travel in the payload of its first frame; the other frames'
payloads are empty (b"")::

    u8   version (1)
    u8   flags (0; reserved)
    u16  stepq        luma quantiser step in 1/16 orthonormal-DCT units (quality knob)
    u16  stepq_c      chroma step
    u8   frames       frames in the GOP (1..255)
    u32  crc32        of the rANS string
    ...  rANS string  (empty when the GOP codes no symbol)

Inside the string, per frame, the passes (each one vectorised call; the decoder derives every context
from what it already has):
  A  one block symbol per 16x16 unit: intra frame -> coded flag; inter frame -> mode * 2 + coded,
     mode 0 restored base R, 1 motion-compensated previous full frame F (decoder-side motion),
     2 blend (R + F + 1) >> 1, 3 F with a coded quarter-pel vector refinement
  B  vector refinements of the mode-3 units (24 values: 5x5 quarter-pel window without the centre)
  C  coded flag of each 8x8 transform unit (4 luma, U, V) of the coded units
  D  scan position of the last non-zero level of each coded transform unit
  E  levels at scan positions 0..last of each coded transform unit (escape beyond +-16)
"""
from __future__ import annotations

import struct
import zlib

from svc.errors import BitstreamError

VERSION = 1
_HEAD = struct.Struct("<BBHHBI")
HEADER_BYTES = _HEAD.size


def pack_gop(stepq: int, stepq_c: int, frames: int, body: bytes) -> bytes:
    return _HEAD.pack(VERSION, 0, stepq, stepq_c, frames, zlib.crc32(body)) + body


def unpack_gop(payload: bytes, frames: int, gop_index=None):
    """(stepq, stepq_c, body) of a GOP payload; BitstreamError when it is damaged or inconsistent."""
    if len(payload) < _HEAD.size:
        raise BitstreamError("block enhancement payload is too short", gop_index)
    version, flags, stepq, stepq_c, n, crc = _HEAD.unpack_from(payload)
    if version != VERSION:
        raise BitstreamError(f"block enhancement payload version {version} is not supported (this reader: "
                             f"{VERSION})", gop_index)
    body = bytes(payload[_HEAD.size:])
    if zlib.crc32(body) != crc:
        raise BitstreamError("block enhancement payload is damaged (checksum mismatch)", gop_index)
    if flags or n != frames or not (1 <= stepq <= 65535 and 1 <= stepq_c <= 65535):
        raise BitstreamError("block enhancement payload header is inconsistent with the GOP", gop_index)
    return stepq, stepq_c, body
