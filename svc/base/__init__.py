"""Base layer: HEVC (libx265 through PyAV), one closed GOP per record; settings: :class:`svc.config.BaseConfig`."""
from svc.base.hevc import BaseDecoder, BaseEncoder

__all__ = ["BaseEncoder", "BaseDecoder"]
