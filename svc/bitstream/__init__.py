"""The layered container: one header, then one self-delimiting record per GOP, then an end marker."""
from svc.bitstream.container import ContainerReader, ContainerWriter, GopRecord, Header, Limits

__all__ = ["ContainerReader", "ContainerWriter", "GopRecord", "Header", "Limits"]
