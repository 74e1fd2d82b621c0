"""The svc container: a header, one record per GOP, an end marker. All integers little-endian.

Header::

    magic      4s   b"SVC\x89"
    version    u8   2
    body_len   u32  bytes of body (<= Limits.max_header)
    body            width u32, height u32, bit_depth u8, chroma u8 (1 = 4:2:0),
                    fps_num u32, fps_den u32, gop_size u32,
                    then a UTF-8 JSON object (u32 length + bytes) with one entry per layer kind:
                    {"base": {codec settings} | null, "enhancement": {codec id, model ids, weights
                    SHA-256s, quality} | null, "features": {feature codec description} | null,
                    "latent": {latent codec id, model id + SHA-256, each layer's quality} | null}
    crc32      u32  over version, body_len and body

GOP record (16-byte fixed head, a layer table, the head CRC, then the payloads in table order)::

    sync       4s   b"SVCG"
    gop_index  u32
    first_frame u32 display index of the GOP's first frame
    frames     u16  frame count
    n_layers   u8   1 .. 5
    reserved   u8   0
    n_layers x (kind u8, len u32, crc u32)   kinds in ascending order, each at most once:
                    0 base (HEVC Annex-B of the closed GOP: VPS/SPS/PPS + IDR first),
                    1 enhancement (the enhancement codec's bytes for the GOP),
                    2 features (the split-DNN feature codec's bytes for the GOP),
                    3 latent_base (the learned latent codec's base latents: detection without pixels),
                    4 latent_enhancement (its enhancement latents: with the base, the pictures)
    head_crc   u32  over the head and table before it
    payloads

End marker: ``b"SVCE", gop_count u32, frame_count u32, crc32 u32``.

Every length is checked against :class:`Limits` and the head CRC before anything is allocated, so a
reader reads only the layers it needs and seeks past the others without parsing them, detects damage
with the GOP index and byte offset, and resynchronises on the next ``SVCG`` whose head CRC is valid.
A damaged base payload (or a record head) makes the record damaged; a damaged enhancement or feature
payload is reported on the record (:attr:`GopRecord.errors`) so its consumer can fall back.
Version 1 streams (per-frame enhancement tables, a fixed two-layer head) are refused by name.
"""
from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

from svc.errors import BitstreamError, TruncatedError
from svc.io.frames import MAX_DIMENSION, VideoFormat

MAGIC = b"SVC\x89"
VERSION = 2
SYNC = b"SVCG"
END = b"SVCE"
_HEAD = struct.Struct("<4sIIHBB")      # 16 bytes, then n_layers table entries, then head_crc u32
_ENTRY = struct.Struct("<BII")         # kind, len, crc
_U32 = struct.Struct("<I")
_FIXED = struct.Struct("<IIBBIII")
_END = struct.Struct("<4sII")
#: layer kinds in the record table, in their order
LAYERS = ("base", "enhancement", "features", "latent_base", "latent_enhancement")
_KIND = {name: i for i, name in enumerate(LAYERS)}


@dataclass(frozen=True)
class Limits:
    """Largest values a reader accepts before allocating anything."""

    max_header: int = 1 << 16
    max_gop_frames: int = 1024
    max_base_bytes: int = 1 << 30
    max_enh_bytes: int = 1 << 30
    max_feature_bytes: int = 1 << 30
    max_latent_bytes: int = 1 << 30
    max_dimension: int = MAX_DIMENSION

    def max_bytes(self, layer: str) -> int:
        return {"base": self.max_base_bytes, "enhancement": self.max_enh_bytes,
                "features": self.max_feature_bytes, "latent_base": self.max_latent_bytes,
                "latent_enhancement": self.max_latent_bytes}[layer]


@dataclass
class Header:
    """Stream-level parameters: one description per layer kind the stream carries (None: absent)."""

    format: VideoFormat
    gop_size: int
    base: dict | None = field(default_factory=dict)
    enhancement: dict | None = None
    features: dict | None = None
    latent: dict | None = None

    def to_bytes(self) -> bytes:
        f = self.format
        layers = {"base": self.base, "enhancement": self.enhancement, "features": self.features}
        if self.latent is not None:   # (streams without it keep the bytes they always had)
            layers["latent"] = self.latent
        meta = json.dumps(layers, sort_keys=True).encode()
        body = _FIXED.pack(f.width, f.height, f.bit_depth, 1, f.fps.numerator, f.fps.denominator,
                           self.gop_size) + _U32.pack(len(meta)) + meta
        crc_part = bytes([VERSION]) + _U32.pack(len(body)) + body
        return MAGIC + crc_part + _U32.pack(zlib.crc32(crc_part))

    @classmethod
    def from_body(cls, body: bytes, limits: Limits) -> "Header":
        if len(body) < _FIXED.size + 4:
            raise BitstreamError("header body too short", offset=0)
        w, h, depth, chroma, num, den, gop = _FIXED.unpack_from(body)
        if chroma != 1:
            raise BitstreamError(f"unsupported chroma format code {chroma} (only 4:2:0)", offset=0)
        if not (0 < w <= limits.max_dimension and 0 < h <= limits.max_dimension):
            raise BitstreamError(f"header geometry {w}x{h} exceeds the limit {limits.max_dimension}", offset=0)
        if not 0 < gop <= limits.max_gop_frames or num == 0 or den == 0:
            raise BitstreamError(f"header has invalid GOP size {gop} or frame rate {num}/{den}", offset=0)
        (mlen,) = _U32.unpack_from(body, _FIXED.size)
        if _FIXED.size + 4 + mlen != len(body):
            raise BitstreamError("header metadata length is inconsistent", offset=0)
        try:
            meta = json.loads(body[_FIXED.size + 4:])
            fmt = VideoFormat(w, h, Fraction(num, den), depth)
        except Exception as e:  # noqa: BLE001 - any parse failure is a damaged header
            raise BitstreamError(f"header is invalid: {e}", offset=0) from None
        if not isinstance(meta, dict):
            raise BitstreamError("header metadata is not a JSON object", offset=0)
        return cls(fmt, gop, meta.get("base"), meta.get("enhancement"), meta.get("features"), meta.get("latent"))


@dataclass
class GopRecord:
    """One GOP of the stream: ``payloads`` holds the layers that were read (kind -> bytes), ``sizes``
    every layer the record carries (kind -> bytes), ``errors`` the read layers whose payload failed
    its CRC (kind -> message; not in ``payloads``). ``offset``: byte offset of the record."""

    index: int
    first_frame: int
    frame_count: int
    payloads: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    offset: int = 0

    def has(self, layer: str) -> bool:
        """Whether the record carries ``layer`` (read or not)."""
        return layer in self.sizes

    @property
    def base(self) -> bytes | None:
        return self.payloads.get("base")

    @property
    def enhancement(self) -> bytes | None:
        return self.payloads.get("enhancement")

    @property
    def features(self) -> bytes | None:
        return self.payloads.get("features")


@dataclass(frozen=True)
class LostGops:
    """GOPs a reader found missing: ``count`` GOPs from index ``first_index``, ``frames`` frames from
    display index ``first_frame`` (``None`` when unknown: lost at the tail of a truncated stream)."""

    first_index: int
    count: int | None
    first_frame: int
    frames: int | None
    cause: str

    def describe(self) -> str:
        if self.count is None:
            return f"GOP {self.first_index} and whatever followed it were lost ({self.cause})"
        gops = (f"GOP {self.first_index}" if self.count == 1
                else f"GOPs {self.first_index}..{self.first_index + self.count - 1}")
        return (f"{gops} (frames {self.first_frame}..{self.first_frame + self.frames - 1}, {self.frames} frames) "
                f"lost: {self.cause}")


class ContainerWriter:
    """Writes a header, then records as GOPs complete (flushing each), then the end marker."""

    def __init__(self, fh, header: Header):
        self._fh = fh
        self.header = header
        self.gop_count = 0
        self.frame_count = 0
        self.bytes_written = 0
        self._write(header.to_bytes())

    def _write(self, data: bytes):
        self._fh.write(data)
        self._fh.flush()
        self.bytes_written += len(data)

    def write_gop(self, frame_count: int, layers: dict) -> int:
        """Appends one record with ``layers`` (kind -> bytes; kinds of :data:`LAYERS`, None = absent);
        returns its size in bytes."""
        present = [(k, layers[k]) for k in LAYERS if layers.get(k) is not None]
        unknown = set(layers) - set(LAYERS)
        if unknown or not present:
            raise ValueError(f"a record needs layers of kinds {LAYERS}, got {sorted(layers)}")
        head = _HEAD.pack(SYNC, self.gop_count, self.frame_count, frame_count, len(present), 0)
        head += b"".join(_ENTRY.pack(_KIND[k], len(p), zlib.crc32(p)) for k, p in present)
        rec = head + _U32.pack(zlib.crc32(head)) + b"".join(p for _, p in present)
        self._write(rec)
        self.gop_count += 1
        self.frame_count += frame_count
        return len(rec)

    def close(self):
        body = _END.pack(END, self.gop_count, self.frame_count)
        self._write(body + _U32.pack(zlib.crc32(body)))


class ContainerReader:
    """Reads a container from a binary file object, one GOP record at a time.

    - ``layers``: the layer kinds to read; the others are skipped without parsing (seeking when the
      stream is seekable), so base-only consumers never touch the enhancement bytes.
    - ``follow=True`` waits for more data at end of file (a file still being written) until the
      end marker arrives or ``idle_timeout`` seconds pass without growth.
    - ``on_error='skip'`` reports a damaged record in :attr:`errors` and resynchronises on the
      next valid record instead of raising.
    - ``verify=True`` checks the CRC of every payload it does not keep too (in 1 MiB chunks, never
      holding it): a mismatch is reported in the record's :attr:`GopRecord.errors`.
    - After the end marker: a second stream with the same header (``cat a.svc a.svc``) is read on
      as a continuation, its GOP indices and frames numbered after the first's
      (:attr:`streams` counts them); anything else is counted in :attr:`trailing` and never decoded.

    Memory: a payload that is kept is held once (plus one copy while it is joined); skipped and
    verified payloads pass in 1 MiB chunks; resynchronisation never holds more than a record head
    and a 64 KiB window. A damaged payload behind a valid head is passed over by its length.
    """

    def __init__(self, fh, layers=("base", "enhancement"), limits: Limits = Limits(),
                 follow: bool = False, idle_timeout: float = 10.0, on_error: str = "fail",
                 verify: bool = False):
        if on_error not in ("fail", "skip"):
            raise ValueError("on_error must be 'fail' or 'skip'")
        if not set(layers) <= set(LAYERS):
            raise ValueError(f"layers must be among {LAYERS}")
        self._fh = fh
        self.layers = frozenset(layers)
        self.limits = limits
        self.follow = follow
        self.idle_timeout = idle_timeout
        self.on_error = on_error
        self.offset = 0
        self.errors: list[BitstreamError] = []
        self.lost: list[LostGops] = []
        self.truncated: str | None = None
        self.ended = False
        self.end_counts: tuple[int, int] | None = None
        self.verify = verify
        #: bytes after the last end marker that are not a continuation of this stream: (offset, count)
        self.trailing: tuple[int, int] | None = None
        #: streams read (more than 1 after ``cat a.svc b.svc`` of streams with one header)
        self.streams = 1
        self._pending = b""
        self._journal: list[bytes] | None = None
        self._fd = self._pipe_fd(fh) if follow else None
        self.header = self._read_header()

    # -- low-level reading -------------------------------------------------------------------

    @property
    def complete_file(self) -> bool:
        """True when the stream is read from a regular file that is not still being written (not a
        pipe, a socket or ``follow`` mode): the next record is there to read without waiting."""
        import stat

        if self.follow:
            return False
        fd_mode = self._fd_mode(self._fh)
        if fd_mode is None:                                  # in-memory buffers are complete too
            return hasattr(self._fh, "getbuffer")
        return stat.S_ISREG(fd_mode[1])

    @staticmethod
    def _fd_mode(fh) -> tuple[int, int] | None:
        """(descriptor, st_mode) of ``fh``; None when it has no usable descriptor."""
        import os

        try:
            fd = fh.fileno()
            return fd, os.fstat(fd).st_mode
        except (AttributeError, OSError, ValueError):
            return None

    @classmethod
    def _pipe_fd(cls, fh) -> int | None:
        """The descriptor of ``fh`` when it is a pipe or socket (read with a timeout in follow mode)."""
        import stat

        fd_mode = cls._fd_mode(fh)
        if fd_mode is None:
            return None
        fd, mode = fd_mode
        return fd if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) else None

    def _raw_read(self, n: int) -> bytes:
        """One read of up to ``n`` bytes; in follow mode waits for growth (a file) or for data (a pipe)
        until ``idle_timeout`` seconds pass without any."""
        if self._fd is not None:
            import os
            import select

            ready, _, _ = select.select([self._fd], [], [], self.idle_timeout)
            return os.read(self._fd, n) if ready else b""
        idle_since = None
        while True:
            b = self._fh.read(n)
            if b or not self.follow:
                return b or b""
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > self.idle_timeout:
                return b""
            time.sleep(0.05)

    def _read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at end of stream)."""
        chunks, got = [], 0
        if self._pending:
            chunks.append(self._pending[:n])
            self._pending = self._pending[n:]
            got = len(chunks[0])
        while got < n:
            b = self._raw_read(n - got)
            if not b:
                break
            chunks.append(b)
            got += len(b)
        data = b"".join(chunks)
        self.offset += len(data)
        if self._journal is not None:
            self._journal.append(data)
        return data

    def _read_exact(self, n: int, what: str, gop_index=None) -> bytes:
        start = self.offset
        data = self._read(n)
        if len(data) < n:
            raise TruncatedError(f"stream ends inside {what}: {len(data)} of {n} bytes", gop_index, start)
        return data

    def _skip(self, n: int, gop_index: int, crc: bool = False) -> int | None:
        """Passes over ``n`` bytes without keeping them (seeks on a seekable, finished file); with
        ``crc`` reads them in 1 MiB chunks and returns their CRC-32."""
        if crc:
            value = 0
            while n > 0:
                chunk = self._read_exact(min(n, 1 << 20), "a payload", gop_index)
                value = zlib.crc32(chunk, value)
                n -= len(chunk)
            return value
        seekable = (not self._pending and not self.follow and self._journal is None
                    and getattr(self._fh, "seekable", lambda: False)())
        if seekable:
            here = self._fh.tell()
            end = self._fh.seek(0, 2)
            if here + n > end:
                self.offset += end - here
                raise TruncatedError("stream ends inside a payload", gop_index, self.offset)
            self._fh.seek(here + n)
            self.offset += n
            return None
        while n > 0:
            n -= len(self._read_exact(min(n, 1 << 20), "a payload", gop_index))
        return None

    # -- header --------------------------------------------------------------------------------
    def _read_header(self, head: bytes | None = None) -> Header:
        """Reads the stream header (``head``: its first bytes, when already read)."""
        head = self._read(9) if head is None else head + self._read(9 - len(head))
        if len(head) < 4 or head[:4] != MAGIC:
            raise BitstreamError("not an svc container (bad magic)", offset=0)
        if len(head) < 9:
            raise TruncatedError("stream ends inside the header", offset=len(head))
        version = head[4]
        if version == 1:
            raise BitstreamError("this is a version-1 svc stream (written before the block enhancement layer "
                                 f"of 2026-11-28); this reader reads version {VERSION}: re-encode the source", offset=4)
        if version != VERSION:
            raise BitstreamError(f"unsupported container version {version} (this reader knows {VERSION})", offset=4)
        (blen,) = _U32.unpack_from(head, 5)
        if blen > self.limits.max_header:
            raise BitstreamError(f"header length {blen} exceeds the limit {self.limits.max_header}", offset=5)
        body = self._read_exact(blen + 4, "the header")
        (crc,) = _U32.unpack_from(body, blen)
        if zlib.crc32(head[4:9] + body[:blen]) != crc:
            raise BitstreamError("header CRC mismatch", offset=0)
        return Header.from_body(body[:blen], self.limits)

    # -- records -------------------------------------------------------------------------------
    def __iter__(self):
        """Yields each good :class:`GopRecord` in stream order and checks the stream's integrity:
        GOP indices and first frames must continue without a gap, and the end marker's GOP and
        frame counts must match what came before it. Under ``on_error='fail'`` a break in that chain
        raises :class:`BitstreamError` naming the GOP; under ``'skip'`` damaged records are reported in
        :attr:`errors`, every GOP that did not arrive in :attr:`lost` (index, frames, cause), and a
        stream that ends without its end marker in :attr:`truncated`. After the end marker, a
        continuation stream is read on (records renumbered after the first's) and other bytes are
        counted in :attr:`trailing`."""
        gop_base = frame_base = 0
        while True:
            for rec in self._chain():
                rec.index += gop_base
                rec.first_frame += frame_base
                yield rec
            if not self.ended or not self._continues():
                return
            gop_base, frame_base = gop_base + self.end_counts[0], frame_base + self.end_counts[1]

    def _chain(self):
        """The records of one stream (one header), up to its end marker."""
        expected, expected_frame, damaged = 0, 0, None
        self.ended = False
        while True:
            start = self.offset
            self._journal = [] if self.on_error == "skip" else None
            self._past_head = False
            try:
                rec = self._read_record(expected)
                if rec is not None and (rec.index != expected or rec.first_frame != expected_frame):
                    self._check_continuity(rec, expected, expected_frame, damaged)
            except BitstreamError as e:
                if self.on_error == "fail":
                    raise
                if isinstance(e, TruncatedError) and e.at_end:
                    self.truncated = str(e)
                else:
                    self.errors.append(e)
                    damaged = damaged or str(e)
                if self._past_head:   # a valid head: go on after the payloads it declared
                    consumed, start = b"", self.offset - 1
                else:
                    consumed = b"".join(self._journal or [])
                self._journal = None
                if not self._resync(consumed, start):
                    self._note_tail_loss(expected, expected_frame, damaged)
                    return
                continue
            finally:
                self._journal = None
            if rec is None:
                self._check_end(expected, expected_frame, damaged)
                return
            expected, expected_frame, damaged = rec.index + 1, rec.first_frame + rec.frame_count, None
            yield rec

    def _continues(self) -> bool:
        """After an end marker: True when another stream with the same header follows (it is then
        read on); otherwise whatever follows is counted in :attr:`trailing` and False returned."""
        follow, self.follow = self.follow, False        # the marker ended the stream: no waiting
        try:
            start = self.offset
            head = self._read(4)
            if not head:
                return False
            if head == MAGIC:
                try:
                    header = self._read_header(head)
                except BitstreamError:
                    header = None
                if header is not None and header.to_bytes() == self.header.to_bytes():
                    self.streams += 1
                    return True
            n = self.offset - start
            while True:
                chunk = self._read(1 << 20)
                if not chunk:
                    break
                n += len(chunk)
            self.trailing = (start, n)
            return False
        finally:
            self.follow = follow

    def describe_trailing(self) -> str | None:
        """One line about the bytes after the end marker, or None when there were none."""
        if self.trailing is None:
            return None
        at, n = self.trailing
        return (f"{n} bytes after the end marker (byte offset {at}) are not a continuation of this stream "
                "(another header, or no header): ignored")

    def _check_continuity(self, rec: GopRecord, expected: int, expected_frame: int, damaged: str | None):
        """A record that does not continue the chain: a gap is a loss (reported or raised), a
        repeated or earlier index, or a first frame that does not follow, is a damaged record."""
        if rec.index < expected:
            raise BitstreamError(f"GOP {rec.index} arrives again or out of order (after GOP {expected - 1})",
                                 rec.index, rec.offset)
        frames = rec.first_frame - expected_frame
        if rec.index > expected and frames > 0:
            cause = f"damaged: {damaged}" if damaged else "missing from the stream"
            loss = LostGops(expected, rec.index - expected, expected_frame, frames, cause)
            if self.on_error == "fail":
                raise BitstreamError(f"{loss.describe()}; the stream goes on with GOP {rec.index}",
                                     expected, rec.offset)
            self.lost.append(loss)
            return
        raise BitstreamError(f"GOP {rec.index} starts at frame {rec.first_frame}, but GOP {expected - 1} "
                             f"ended at frame {expected_frame}", rec.index, rec.offset)

    def _check_end(self, expected: int, expected_frame: int, damaged: str | None):
        """The end marker's counts against the GOPs and frames seen: GOPs after the last good record
        that never arrived are a loss; counts below what arrived mean a damaged marker."""
        gops, frames = self.end_counts
        if gops == expected and frames == expected_frame:
            return
        if gops > expected and frames > expected_frame:
            loss = LostGops(expected, gops - expected, expected_frame, frames - expected_frame,
                            f"damaged: {damaged}" if damaged else "missing from the stream")
            if self.on_error == "fail":
                raise BitstreamError(f"{loss.describe()} before the end marker", expected, self.offset)
            self.lost.append(loss)
            return
        err = BitstreamError(f"the end marker counts {gops} GOPs / {frames} frames, the stream held "
                             f"{expected} / {expected_frame}", offset=self.offset)
        if self.on_error == "fail":
            raise err
        self.errors.append(err)

    def _note_tail_loss(self, expected: int, expected_frame: int, damaged: str | None):
        """At end of stream without an end marker: what was damaged at the tail is lost, how much
        is unknown (the marker that would say is gone)."""
        if not self.truncated:
            self.truncated = (f"the stream ends after GOP {expected - 1} without its end marker" if expected
                              else "the stream ends before its first GOP, without an end marker")
        if damaged:
            self.lost.append(LostGops(expected, None, expected_frame, None, f"damaged: {damaged}"))

    def _resync(self, consumed: bytes, start: int) -> bool:
        """Finds the next record head or end marker with a valid CRC after byte ``start``.

        On success the reader is positioned on it and True is returned; False at end of stream.
        """
        window = consumed[1:] + self._pending
        self._pending = b""
        base, pos = start + 1, 0
        while True:
            cands = [i for i in (window.find(SYNC, pos), window.find(END, pos)) if i != -1]
            if not cands:
                keep = max(len(window) - 3, pos)
                base, window, pos = base + keep, window[keep:], 0
                more = self._raw_read(1 << 16)
                if not more:
                    self.offset = base + len(window)
                    return False
                window += more
                continue
            i = min(cands)
            need = i + (_HEAD.size if window[i:i + 4] == SYNC else _END.size + 4)
            while True:
                while len(window) < need:
                    more = self._raw_read(1 << 16)
                    if not more:
                        break
                    window += more
                if window[i:i + 4] != SYNC or len(window) < i + _HEAD.size:
                    break
                full = i + _HEAD.size + _ENTRY.size * min(window[i + 14], len(LAYERS)) + 4
                if need >= full:
                    break
                need = full
            if len(window) >= need and self._valid_head(window[i:need]):
                self._pending = window[i:]
                self.offset = base + i
                return True
            pos = i + 1

    @staticmethod
    def _valid_head(cand: bytes) -> bool:
        n = len(cand) - 4
        return zlib.crc32(cand[:n]) == _U32.unpack_from(cand, n)[0]

    def _read_record(self, expected: int) -> GopRecord | None:
        start = self.offset
        sync = self._read(4)
        if not sync:
            live = " (a live stream whose writer stopped or whose pipe broke)" if self.follow else ""
            raise TruncatedError(f"the stream ends after {expected} GOP(s) without its end marker: it is "
                                 f"truncated{live}", expected, start, at_end=True)
        if len(sync) < 4:
            raise TruncatedError("stream ends inside a record head", expected, start)
        if sync == END:
            tail = self._read_exact(_END.size - 4 + 4, "the end marker", expected)
            gops, frames, crc = struct.unpack("<III", tail)
            if zlib.crc32(sync + tail[:8]) != crc:
                raise BitstreamError("end marker CRC mismatch", expected, start)
            self.ended = True
            self.end_counts = (gops, frames)
            return None
        if sync != SYNC:
            raise BitstreamError("expected a GOP record (lost sync)", expected, start)
        fixed = self._read_exact(_HEAD.size - 4, "a record head", expected)
        _, index, first, nframes, nlayers, reserved = _HEAD.unpack(sync + fixed)
        if not 0 < nlayers <= len(LAYERS):
            raise BitstreamError(f"record head claims {nlayers} layers", expected, start)
        rest = self._read_exact(_ENTRY.size * nlayers + 4, "a record head", expected)
        head = sync + fixed + rest[:-4]
        if zlib.crc32(head) != _U32.unpack_from(rest, len(rest) - 4)[0]:
            raise BitstreamError("record head CRC mismatch", expected, start)
        lim = self.limits
        if not 0 < nframes <= lim.max_gop_frames:
            raise BitstreamError(f"record claims {nframes} frames (limit {lim.max_gop_frames})", index, start)
        entries, last = [], -1
        for k in range(nlayers):
            kind, length, crc = _ENTRY.unpack_from(rest, _ENTRY.size * k)
            if kind >= len(LAYERS) or kind <= last or reserved:
                raise BitstreamError(f"record layer table is invalid (kind {kind})", index, start)
            name = LAYERS[kind]
            if length > lim.max_bytes(name):
                raise BitstreamError(f"record claims a {name} payload of {length} bytes beyond the limit", index, start)
            entries.append((name, length, crc))
            last = kind
        rec = GopRecord(index, first, nframes, {}, {n: length for n, length, _ in entries}, {}, start)
        self._past_head = True           # the head is valid: its payload bytes are never rescanned
        self._journal = None
        for name, length, crc in entries:
            at = self.offset
            if name not in self.layers:
                got = self._skip(length, index, crc=self.verify)
                if got is not None and got != crc:
                    rec.errors[name] = f"{name} payload CRC mismatch (GOP {index}, byte offset {at})"
                continue
            data = self._read_exact(length, f"the {name} payload", index)
            if zlib.crc32(data) == crc:
                rec.payloads[name] = data
            elif name == "base":
                raise BitstreamError("base payload CRC mismatch", index, at)
            else:
                rec.errors[name] = f"{name} payload CRC mismatch (GOP {index}, byte offset {at})"
        return rec
