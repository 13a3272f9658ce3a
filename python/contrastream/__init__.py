"""contrastream for PyTorch: SimCLR view batches made by the Go pipeline.

``contrastream.torch.ViewLoader`` runs ``contrastream stream`` (the Go
binary) per rank and yields torch tensors; ``contrastream.read_stream``
reads the Arrow IPC stream it writes with numpy alone.
"""

from ._arrow import ArrowFormatError, StreamReader

__version__ = "0.1.0"
__all__ = ["ArrowFormatError", "StreamReader", "read_stream"]


def read_stream(f, alloc=None):
    """Yield the record batches of a view-batch stream read from the binary
    file f (the schema is on the reader: ``StreamReader(f).schema``)."""
    r = StreamReader(f, alloc)
    while True:
        b = r.next_batch()
        if b is None:
            return
        yield b
