"""Frame input/output: raw YUV 4:2:0 files (CTC / Vooya names) and PyAV containers."""
from svc.io.frames import VideoFormat, YuvFrame
from svc.io.yuv import YuvReader, YuvWriter, parse_yuv_name
from svc.io.sources import open_source, open_sink

__all__ = ["VideoFormat", "YuvFrame", "YuvReader", "YuvWriter", "parse_yuv_name", "open_source", "open_sink"]
