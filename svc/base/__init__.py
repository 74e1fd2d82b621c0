"""Base layer: HEVC (libx265 through PyAV), one closed GOP per record."""
from svc.base.hevc import BaseDecoder, BaseEncoder, BaseSettings

__all__ = ["BaseEncoder", "BaseDecoder", "BaseSettings"]
