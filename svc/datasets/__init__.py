"""Dataset readers (ground-truth annotations for evaluation)."""
from svc.datasets.sfu_hw import (
    find_annotation_dir,
    read_sfu_annotations,
    write_sfu_annotations,
)

__all__ = ["find_annotation_dir", "read_sfu_annotations", "write_sfu_annotations"]
