"""The base layer into a real container (``svc-extract -o base.mp4|.mkv``) without re-encoding.

A raw Annex-B stream carries no timestamps, and the base layer reorders frames (x265's B-frames), so
each access unit's display time is read from the bitstream itself: the picture order count of its
first slice (0 at each IDR: every GOP is closed), from ``slice_pic_order_cnt_lsb`` with the SPS's
``log2_max_pic_order_cnt_lsb`` and the PPS fields that precede it in the slice header (H.265
sections 7.3.2.2, 7.3.2.3, 7.3.6.1, 8.3.1). pts = first frame of the GOP + POC; dts = decode order,
shifted so that no dts is after its pts.
"""
from __future__ import annotations

from fractions import Fraction

from svc.errors import BitstreamError


class _Bits:
    """An RBSP bit reader (emulation-prevention bytes already removed)."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3] if (self.pos >> 3) < len(self.data) else 0
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("HEVC exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)


def _rbsp(nal: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B byte stream (start codes removed)."""
    starts, i = [], data.find(b"\x00\x00\x01")
    while i != -1:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    units = []
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        units.append(data[s:end].rstrip(b"\x00") if k + 1 < len(starts) else data[s:end])
    return units


def _skip_profile_tier_level(r: _Bits, max_sub_layers_minus1: int):
    r.u(2 + 1 + 5 + 32 + 4 + 43 + 1 + 8)               # general profile, flags, level
    present = [(r.u(1), r.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.u(2 * (8 - max_sub_layers_minus1))
    for profile, level in present:
        if profile:
            r.u(2 + 1 + 5 + 32 + 4 + 43 + 1)
        if level:
            r.u(8)


class PocReader:
    """Picture order counts of an HEVC Annex-B stream's access units, in decode order."""

    def __init__(self):
        self.log2_max_poc_lsb = None
        self.separate_colour_plane = 0
        self.pps = {}                                   # id -> (dependent slices, output flag, extra bits)
        self.prev_poc_tid0 = 0

    def _sps(self, r: _Bits):
        r.u(4)                                          # sps_video_parameter_set_id
        max_sub_layers_minus1 = r.u(3)
        r.u(1)
        _skip_profile_tier_level(r, max_sub_layers_minus1)
        r.ue()                                          # sps_seq_parameter_set_id
        if r.ue() == 3:                                 # chroma_format_idc
            self.separate_colour_plane = r.u(1)
        r.ue(), r.ue()                                  # pic width, height
        if r.u(1):                                      # conformance window
            r.ue(), r.ue(), r.ue(), r.ue()
        r.ue(), r.ue()                                  # bit depths
        self.log2_max_poc_lsb = r.ue() + 4

    def _pps(self, r: _Bits):
        pps_id = r.ue()
        r.ue()                                          # pps_seq_parameter_set_id
        self.pps[pps_id] = (r.u(1), r.u(1), r.u(3))

    def poc(self, access_unit: bytes) -> int:
        """The picture order count of one access unit (its first slice segment's picture)."""
        for nal in nal_units(access_unit):
            if len(nal) < 3:
                continue
            kind, tid = (nal[0] >> 1) & 0x3F, (nal[1] & 7) - 1
            r = _Bits(_rbsp(nal[2:]))
            if kind == 33:
                self._sps(r)
            elif kind == 34:
                self._pps(r)
            elif kind <= 21 and r.u(1):                 # VCL NAL, first_slice_segment_in_pic_flag
                if self.log2_max_poc_lsb is None:
                    raise BitstreamError("HEVC slice before its SPS")
                if 16 <= kind <= 23:
                    r.u(1)                              # no_output_of_prior_pics_flag
                pps = self.pps.get(r.ue())
                if pps is None:
                    raise BitstreamError("HEVC slice names a PPS the stream does not carry")
                _, output_flag, extra = pps
                r.u(extra)
                r.ue()                                  # slice_type
                if output_flag:
                    r.u(1)
                if self.separate_colour_plane:
                    r.u(2)
                if kind in (19, 20):                    # IDR: POC 0
                    poc = 0
                else:
                    lsb, max_lsb = r.u(self.log2_max_poc_lsb), 1 << self.log2_max_poc_lsb
                    prev_lsb, prev_msb = self.prev_poc_tid0 % max_lsb, self.prev_poc_tid0 - self.prev_poc_tid0 % max_lsb
                    if lsb < prev_lsb and prev_lsb - lsb >= max_lsb // 2:
                        msb = prev_msb + max_lsb
                    elif lsb > prev_lsb and lsb - prev_lsb > max_lsb // 2:
                        msb = prev_msb - max_lsb
                    else:
                        msb = prev_msb
                    poc = msb + lsb
                if tid == 0 and kind not in (6, 7, 8, 9, 10, 11, 12, 13, 14):   # not RADL/RASL/sub-layer non-ref
                    self.prev_poc_tid0 = poc
                return poc
        raise BitstreamError("HEVC access unit without a slice")


def remux_base(gop_payloads, fps: Fraction, path: str, muxer: str, write_path=None) -> int:
    """Writes the base layer (``gop_payloads``: each GOP's Annex-B bytes, in order) into a ``muxer``
    container (``mp4``, ``matroska``) at ``path`` without re-encoding, each frame timed at ``fps``;
    returns the frame count."""
    import io

    import av

    entries, first = [], 0                              # (packet bytes, pts, keyframe), in decode order
    template = None
    for payload in gop_payloads:
        src = av.open(io.BytesIO(payload), format="hevc")
        stream = src.streams.video[0]
        reader = PocReader()
        pocs = []
        for pkt in src.demux(stream):
            if pkt.size:
                pocs.append((bytes(pkt), reader.poc(bytes(pkt)), bool(pkt.is_keyframe)))
        if template is None:
            template = src
        else:
            src.close()
        entries += [(data, first + poc, key) for data, poc, key in pocs]
        first += len(pocs)
    if template is None:
        raise BitstreamError("the stream holds no base layer frames")
    delay = max(i - pts for i, (_, pts, _) in enumerate(entries))
    out = av.open(str(write_path or path), "w", format=muxer)
    try:
        ostream = out.add_stream_from_template(template.streams.video[0])
        ostream.time_base = 1 / Fraction(fps)
        tb = 1 / Fraction(fps)
        for i, (data, pts, key) in enumerate(entries):
            pkt = av.Packet(data)
            pkt.stream = ostream
            pkt.time_base = tb
            pkt.pts, pkt.dts = pts, i - delay
            pkt.duration = 1
            pkt.is_keyframe = key
            out.mux(pkt)
    finally:
        out.close()
        template.close()
    return len(entries)
