"""SFU-HW-Tracks-v1 ground truth and MOTChallenge text files.

SFU-HW-Tracks-v1 layout: one folder per sequence, one file per frame named
``<Seq>_<W>x<H>_<fps>_seq_<NNN>.txt`` (NNN from 000, zero-padded to 3+ digits), one line per
object ``class_id object_id x_center y_center width height`` with coordinates normalised to
[0, 1] and COCO class ids (0 = person). Object ids are numbered per class: a person and a ball may
both be object 0 of a frame (the dataset authors' own converter, ``yolo2mot.py`` in
takehiro-code/SFU-HW-Tracks, re-numbers ``(class_id, object_id)`` pairs when it pools classes), so
``(class_id, id)`` names an object and :func:`svc.metrics.mot.evaluate` scores class by class.

Everything here returns MOTChallenge-style rows, float64 arrays of shape (N, 9) or (N, 10):
``[frame, id, x, y, w, h, conf, class_id, visibility(, unused)]`` with frame numbers from 1
and boxes in pixels, (x, y) the top-left corner.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

#: ``<stem>_seq_<NNN>.txt``; the stem is ``<Seq>_<W>x<H>_<fps>``.
FRAME_FILE_RE = re.compile(r"^(?P<stem>.+)_seq_(?P<idx>\d{3,})\.txt$")
#: ``<Seq>_<W>x<H>[_<fps>...]``
STEM_RE = re.compile(r"^(?P<name>.+?)_(?P<w>\d+)x(?P<h>\d+)(?:_(?P<rest>.*))?$")

SFU_COLUMNS = 9  # frame, id, x, y, w, h, conf, class_id, visibility


def _frame_files(folder: Path) -> dict[str, dict[int, Path]]:
    """``{stem: {frame_index (0-based): path}}`` for the per-frame files in ``folder``."""
    out: dict[str, dict[int, Path]] = {}
    for entry in sorted(os.listdir(folder)):
        m = FRAME_FILE_RE.match(entry)
        if m is None or not (folder / entry).is_file():
            continue
        frames = out.setdefault(m["stem"], {})
        idx = int(m["idx"])
        if idx in frames:
            raise ValueError(f"{folder}: two annotation files for frame {idx}: {frames[idx].name}, {entry}")
        frames[idx] = folder / entry
    return out


def _stem_size(stem: str):
    m = STEM_RE.match(stem)
    return (int(m["w"]), int(m["h"])) if m else None


def _parse_int(text: str) -> int:
    v = float(text)  # accepts "3" and "3.0"
    if not math.isfinite(v) or v != int(v):
        raise ValueError(f"not an integer: {text!r}")
    return int(v)


def _parse_frame_file(path: Path, frame: int, width: int, height: int) -> list[list[float]]:
    rows = []
    seen = set()
    with open(path, "r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                if len(fields) != 6:
                    raise ValueError(
                        f"expected 6 fields 'class_id object_id x_center y_center width height', "
                        f"got {len(fields)}"
                    )
                cls, oid = _parse_int(fields[0]), _parse_int(fields[1])
                xc, yc, wn, hn = (float(f) for f in fields[2:])
                if not all(math.isfinite(v) for v in (xc, yc, wn, hn)):
                    raise ValueError("non-finite coordinate")
                if wn < 0 or hn < 0:
                    raise ValueError("negative box size")
                if (cls, oid) in seen:
                    raise ValueError(f"object id {oid} of class {cls} appears twice in this frame")
            except ValueError as exc:
                raise ValueError(f"{path}, line {lineno}: malformed annotation {line.rstrip()!r}: {exc}") from None
            seen.add((cls, oid))
            w, h = wn * width, hn * height
            rows.append([frame, oid, xc * width - w / 2, yc * height - h / 2, w, h, 1.0, cls, 1.0])
    return rows


def read_sfu_annotations(folder, width: int, height: int, num_frames: int | None = None,
                         seq_stem: str | None = None) -> np.ndarray:
    """Read one SFU-HW-Tracks-v1 sequence folder into MOTChallenge rows, shape (N, 9).

    ``width``/``height``: picture size in pixels used to de-normalise the boxes. Rows are
    ``[frame, id, x, y, w, h, 1, class_id, 1]`` with frame = NNN + 1, (x, y) the top-left
    corner in pixels, sorted by (frame, id). Frames whose file is missing or empty have no
    rows. ``num_frames`` keeps only frames 1..num_frames. If the folder holds files of
    several sequences, ``seq_stem`` (e.g. ``"RaceHorses_832x480_30"``) selects one, else the
    one whose ``<W>x<H>`` equals width x height. Malformed lines raise ``ValueError`` naming
    the file and line.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"annotation folder not found: {folder}")
    by_stem = _frame_files(folder)
    if seq_stem is not None:
        by_stem = {k: v for k, v in by_stem.items() if k == seq_stem}
    elif len(by_stem) > 1:
        by_stem = {k: v for k, v in by_stem.items() if _stem_size(k) == (width, height)}
    if not by_stem:
        raise FileNotFoundError(
            f"{folder}: no annotation files named <Seq>_<W>x<H>_<fps>_seq_<NNN>.txt"
            + (f" for {seq_stem!r}" if seq_stem else f" for {width}x{height}")
        )
    if len(by_stem) > 1:
        raise ValueError(f"{folder}: files of several sequences {sorted(by_stem)}; pass seq_stem")
    stem, files = next(iter(by_stem.items()))
    size = _stem_size(stem)
    if size is not None and size != (width, height):
        raise ValueError(f"{folder}: files are for {size[0]}x{size[1]} ({stem}) but {width}x{height} was given")

    rows: list[list[float]] = []
    for idx in sorted(files):
        if num_frames is not None and idx >= num_frames:
            break
        rows.extend(_parse_frame_file(files[idx], idx + 1, width, height))
    out = np.asarray(rows, dtype=np.float64).reshape(-1, SFU_COLUMNS)
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def write_sfu_annotations(rows, folder, seq_stem: str, width: int, height: int,
                          num_frames: int | None = None, decimals: int = 10) -> list[Path]:
    """Write MOTChallenge rows (N, >= 6; pixels, frames from 1) as SFU-HW-Tracks-v1 files.

    The inverse of :func:`read_sfu_annotations`: one ``<seq_stem>_seq_<NNN>.txt`` per frame
    1..max(frame) (or 1..num_frames; frames without rows get an empty file). The class is
    column 7 when present and >= 0, else 0 (person). Returns the written paths.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        rows = rows.reshape(0, 6)
    if rows.ndim != 2 or rows.shape[1] < 6:
        raise ValueError(f"rows must be (N, >= 6) MOTChallenge rows, got shape {rows.shape}")
    if rows.shape[0] and (np.any(rows[:, 0] < 1) or np.any(rows[:, 0] != np.round(rows[:, 0]))):
        raise ValueError("frame numbers must be integers >= 1")
    if rows.shape[1] > 7 and np.any(rows[:, 7] != np.round(rows[:, 7])):
        raise ValueError("column 7 must hold integer class ids (MOT15 files keep world x there; "
                         "pass rows[:, :7])")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    last = int(rows[:, 0].max()) if rows.shape[0] else 0
    n = num_frames if num_frames is not None else last
    if last > n:
        raise ValueError(f"rows reach frame {last} but num_frames is {n}")
    digits = max(3, len(str(n - 1)))
    paths = []
    for frame in range(1, n + 1):
        lines = []
        for r in rows[rows[:, 0] == frame]:
            cls = int(r[7]) if rows.shape[1] > 7 and r[7] >= 0 else 0
            x, y, w, h = r[2:6]
            vals = ((x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
            lines.append(f"{cls} {int(r[1])} " + " ".join(f"{v:.{decimals}f}" for v in vals) + "\n")
        path = folder / f"{seq_stem}_seq_{frame - 1:0{digits}d}.txt"
        path.write_text("".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def find_annotation_dir(root, seq_name: str, width: int, height: int) -> Path:
    """Find the annotation folder of one sequence below ``root`` (``root`` itself included).

    ``seq_name`` is the sequence name (``"RaceHorses"``) or its file stem
    (``"RaceHorses_832x480_30"``); the resolution always takes part in the match, so
    RaceHorses 832x480 and 416x240 are told apart. A folder matches if it contains files
    named ``<Seq>[A-F]_<W>x<H>_..._seq_<NNN>.txt`` (the class letter, as in ``RaceHorsesC``,
    is optional), or failing that if its name is the stem or starts with ``<Seq>[A-F]_<W>x<H>``.
    Raises ``FileNotFoundError`` if nothing matches, ``ValueError`` if the match is ambiguous.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"annotation root not found: {root}")
    m = STEM_RE.match(seq_name)
    base = m["name"] if m else seq_name
    prefix = rf"{re.escape(base)}[A-F]?_{int(width)}x{int(height)}"
    file_re = re.compile(rf"^{prefix}_.*_seq_\d{{3,}}\.txt$")
    dir_re = re.compile(rf"^{prefix}(?:_|$)")

    by_content, by_name = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        if any(file_re.match(f) for f in filenames):
            by_content.append(d)
        elif d.name == seq_name or dir_re.match(d.name):
            by_name.append(d)
    for found in (by_content, by_name):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ValueError(f"ambiguous annotation folders for {seq_name} {width}x{height}: "
                             + ", ".join(str(p) for p in found))
    raise FileNotFoundError(f"no annotation folder for {seq_name} {width}x{height} under {root}")
