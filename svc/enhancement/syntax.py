"""Every byte of the enhancement layer (one GOP at a time): the layer's wrapper (:func:`pack_layer`,
:func:`unpack_layer`) and the block coder's payload inside it (:func:`pack_gop`, :func:`unpack_gop`).

Enhancement payload of a GOP (the container record's enhancement layer)::

    u8  version (2)
    u8  flags            bit 0: a block-coder payload follows; bit 1: region table present
    u8[ceil(n / 8)]      restoration flags, bit t % 8 of byte t // 8: frame t uses the restored base
    region table         when flagged: per frame u8 count, then count x (u16 x0, y0, x1, y1): unit
                         rectangles [x0, x1) x [y0, y1) that may be enhanced; count 255: the
                         previous frame's rectangles again
    ...                  block-coder payload (below), when flagged

Block-coder payload. A GOP's enhancement is one rANS string: the encoder decides every frame first (closed loop, in
display order) and entropy-codes the whole GOP at the end, so the 8-byte rANS flush is paid once per
GOP, not per frame. The GOP payload (the container record's enhancement layer, after the codec's own
prefix, :mod:`svc.enhancement.codec`)::

    u8   version (1)
    u8   flags        bit 0: step cascade (frame t >= 1 of the GOP uses stepq_p * CASCADE[t % 4] / 16,
                      like HM's low-delay QP offsets); bit 1: independent tiles; bit 2: tables adapt
                      within the GOP (each frame's tables: the static ones updated by the counts of the
                      string's earlier frames, svc.enhancement.context_tables.EntropyModel.adapted); other
                      bits reserved (0)
    u16  stepq_i      luma quantiser step of the GOP's first frame, 1/16 orthonormal-DCT units
    u16  stepq_p      luma step of the other frames (the quality knob sets both)
    u8   chroma       chroma step / luma step, in 1/16
    u8   frames       frames in the GOP (1..255)
    u32  crc32        of the bytes before it and the rANS string
    ...  rANS string  (empty when the GOP codes no symbol), or with bit 1 the tile table:
         u8 tile      tile side in 16x16 units (1..255); the frame's units form ceil(By / tile) x
                      ceil(Bx / tile) tiles, in raster order
         varint x (tiles - 1)  byte length of each tile's rANS string but the last (LEB128)
         ...          the tiles' rANS strings, one after another

Tiles (bit 1) make a region decodable on its own: each tile's symbols are a rANS string of their own
(a decoder skips the strings of the tiles it does not need), and every prediction of a unit reads
the previous full frame only inside the unit's tile (positions beyond its edges take the edge
samples, as HEVC's motion-constrained tile sets), so a tile decodes from its own earlier pixels.

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
FLAG_CASCADE = 1
FLAG_TILES = 2
FLAG_ADAPT = 4      # context tables adapt within the GOP (svc.enhancement.context_tables.EntropyModel.adapted)
FLAGS = FLAG_CASCADE | FLAG_TILES | FLAG_ADAPT
CASCADE = (16, 22, 20, 22)     # step factor in 1/16 by t % 4 (t >= 1): +1 / +3 / +2 / +3 "QP"
_HEAD = struct.Struct("<BBHHBBI")
HEADER_BYTES = _HEAD.size


def frame_stepq(t: int, stepq_i: int, stepq_p: int, flags: int) -> int:
    """The luma step of frame ``t`` of the GOP."""
    if t == 0:
        return stepq_i
    if flags & FLAG_CASCADE:
        return max(1, (stepq_p * CASCADE[t % 4] + 8) >> 4)
    return stepq_p


def pack_gop(stepq_i: int, stepq_p: int, chroma: int, frames: int, body: bytes, flags: int = 0) -> bytes:
    head = _HEAD.pack(VERSION, flags, stepq_i, stepq_p, chroma, frames, 0)[:-4]
    return head + zlib.crc32(body, zlib.crc32(head)).to_bytes(4, "little") + body


def unpack_gop(payload: bytes, frames: int, gop_index=None):
    """(stepq_i, stepq_p, chroma, flags, body) of a GOP payload; BitstreamError when it is damaged or
    inconsistent."""
    if len(payload) < _HEAD.size:
        raise BitstreamError("block enhancement payload is too short", gop_index)
    version, flags, stepq_i, stepq_p, chroma, n, crc = _HEAD.unpack_from(payload)
    if version != VERSION:
        raise BitstreamError(f"block enhancement payload version {version} is not supported (this reader: "
                             f"{VERSION})", gop_index)
    body = bytes(payload[_HEAD.size:])
    if zlib.crc32(body, zlib.crc32(bytes(payload[:_HEAD.size - 4]))) != crc:
        raise BitstreamError("block enhancement payload is damaged (checksum mismatch)", gop_index)
    if flags & ~FLAGS or n != frames or not (stepq_i >= 1 and stepq_p >= 1 and chroma >= 1):
        raise BitstreamError("block enhancement payload header is inconsistent with the GOP", gop_index)
    return stepq_i, stepq_p, chroma, flags, body


def tile_grid(by: int, bx: int, tile: int) -> tuple[int, int]:
    """(rows, columns) of tiles of ``tile`` x ``tile`` units over a (By, Bx) unit grid."""
    return -(-by // tile), -(-bx // tile)


def pack_tiles(tile: int, strings: list[bytes]) -> bytes:
    """The tile table and strings (the body of a tiled GOP payload)."""
    if not 1 <= tile <= 255:
        raise ValueError(f"tile side must be 1..255 units, got {tile}")
    out = bytearray([tile])
    for s in strings[:-1]:
        n = len(s)
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                break
    return bytes(out) + b"".join(strings)


def unpack_tiles(body: bytes, by: int, bx: int, gop_index=None) -> tuple[int, list[bytes]]:
    """(tile side, per tile its rANS string) of a tiled GOP body; BitstreamError when it is damaged."""
    if not body or body[0] == 0:
        raise BitstreamError("block enhancement tile table is damaged", gop_index)
    tile = body[0]
    ty, tx = tile_grid(by, bx, tile)
    pos, lengths = 1, []
    for _ in range(ty * tx - 1):
        n = shift = 0
        while True:
            if pos >= len(body) or shift > 28:
                raise BitstreamError("block enhancement tile table is truncated or damaged", gop_index)
            b = body[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        lengths.append(n)
    if pos + sum(lengths) > len(body):
        raise BitstreamError("block enhancement tile strings are truncated", gop_index)
    strings = []
    for n in lengths:
        strings.append(bytes(body[pos:pos + n]))
        pos += n
    strings.append(bytes(body[pos:]))
    return tile, strings


# -- the layer's wrapper ----------------------------------------------------------------------------
LAYER_VERSION = 2
LAYER_CODED = 1
LAYER_REGIONS = 2
MAX_RECTS = 254  # rectangles per frame (more boxes: their bounding rectangle)
REPEAT_RECTS = 255  # a frame's count byte: the same rectangles as the previous frame


def _mask_bytes(mask) -> bytes:
    out = bytearray((len(mask) + 7) // 8)
    for t, on in enumerate(mask):
        if on:
            out[t // 8] |= 1 << (t % 8)
    return bytes(out)


def _rect_bytes(rects_per_frame) -> bytes:
    import numpy as np

    out, prev = bytearray(), None
    for rects in rects_per_frame:
        rects = np.asarray(rects, np.int64).reshape(-1, 4)
        if prev is not None and np.array_equal(rects, prev):
            out.append(REPEAT_RECTS)
        else:
            out.append(len(rects))
            out += b"".join(struct.pack("<4H", *map(int, r)) for r in rects)
        prev = rects
    return bytes(out)


def pack_layer(mask, body: bytes | None = None, rects=None) -> bytes:
    """The enhancement payload of a GOP: per-frame restoration flags ``mask``, the block coder's payload
    ``body`` (None: none, the full layer is the prediction) and, with a body, per frame the unit
    rectangles ``rects`` (x0, y0, x1, y1) outside which nothing is coded (None: the whole frame)."""
    if body is None:
        return bytes([LAYER_VERSION, 0]) + _mask_bytes(mask)
    if rects is None:
        return bytes([LAYER_VERSION, LAYER_CODED]) + _mask_bytes(mask) + body
    return bytes([LAYER_VERSION, LAYER_CODED | LAYER_REGIONS]) + _mask_bytes(mask) + _rect_bytes(rects) + body


def unpack_layer(payload: bytes, n: int, grid: tuple[int, int], gop_index=None):
    """(mask, rects or None, body or None) of a GOP of ``n`` frames whose frames have ``grid`` = (By, Bx)
    16x16 units; a :class:`~svc.errors.BitstreamError` for anything :func:`pack_layer` does not write."""
    nmask = (n + 7) // 8
    if len(payload) < 2 + nmask or payload[0] != LAYER_VERSION or payload[1] & ~(LAYER_CODED | LAYER_REGIONS) \
            or payload[1] == LAYER_REGIONS:
        raise BitstreamError("enhancement payload header is damaged or of another version", gop_index)
    flags, mask_bytes = payload[1], payload[2:2 + nmask]
    mask = [bool(mask_bytes[t // 8] >> (t % 8) & 1) for t in range(n)]
    if any(mask_bytes[t // 8] >> (t % 8) & 1 for t in range(n, 8 * nmask)):
        raise BitstreamError("enhancement payload flags frames the GOP does not have", gop_index)
    pos, rects = 2 + nmask, None
    if flags & LAYER_REGIONS:
        rects, pos = _read_rects(payload, pos, n, grid, gop_index)
    body = payload[pos:]
    if not flags & LAYER_CODED:
        if body:
            raise BitstreamError("enhancement payload has trailing bytes", gop_index)
        return mask, None, None
    return mask, rects, body


def _read_rects(payload: bytes, pos: int, n: int, grid, gop_index):
    by, bx = grid
    out = []
    for _ in range(n):
        if pos >= len(payload):
            raise BitstreamError("enhancement region table truncated", gop_index)
        cnt = payload[pos]
        pos += 1
        if cnt == REPEAT_RECTS:
            if not out:
                raise BitstreamError("enhancement region table repeats before its first frame", gop_index)
            out.append(out[-1])
            continue
        if pos + 8 * cnt > len(payload):
            raise BitstreamError("enhancement region table truncated", gop_index)
        rects = [struct.unpack_from("<4H", payload, pos + 8 * i) for i in range(cnt)]
        pos += 8 * cnt
        if any(not (x0 < x1 <= bx and y0 < y1 <= by) for x0, y0, x1, y1 in rects):
            raise BitstreamError("enhancement region outside the frame", gop_index)
        out.append(rects)
    return out, pos
