"""Exception types raised by the library; the CLI turns them into one-line messages."""


class SvcError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(SvcError):
    """The user's input (file, geometry, option) is unusable."""


class BitstreamError(SvcError):
    """A container could not be parsed: damaged, truncated or not an svc file.

    ``gop_index`` and ``offset`` (byte offset in the stream) locate the damage when known; a
    location the message already names (a message passed on from a lower layer) is not repeated.
    """

    def __init__(self, message, gop_index=None, offset=None):
        message = str(message)
        where = []
        if gop_index is not None and f"GOP {gop_index}" not in message:
            where.append(f"GOP {gop_index}")
        if offset is not None and f"byte offset {offset}" not in message:
            where.append(f"byte offset {offset}")
        super().__init__(message + (f" ({', '.join(where)})" if where else ""))
        self.gop_index = gop_index
        self.offset = offset


class TruncatedError(BitstreamError):
    """The stream ended inside a record or before its end marker (``at_end``: at a record boundary,
    so every record before was whole)."""

    def __init__(self, message, gop_index=None, offset=None, at_end: bool = False):
        super().__init__(message, gop_index, offset)
        self.at_end = at_end


class ModelError(SvcError):
    """An enhancement model is missing, unreadable or does not match the bitstream."""
