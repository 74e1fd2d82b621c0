"""Finds sequences and annotations, runs evaluation points (cached, in parallel or on Ray)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from svc.config import PROJECT_ROOT, read_yaml
from svc.errors import InputError

#: The HEVC CTC sequences annotated in SFU-HW-Tracks-v1 (shipped with the package: the tool needs it).
CTC_TABLE = Path(__file__).resolve().parent.parent / "datasets" / "ctc_sequences.yaml"


def code_version() -> str:
    """Hash of the library (code, configuration schema, tables): any change invalidates cached points."""
    h = hashlib.sha256()
    for folder in ("svc",):
        for p in sorted((PROJECT_ROOT / folder).rglob("*")):
            if p.suffix in (".py", ".yaml") and p.is_file():
                h.update(p.relative_to(PROJECT_ROOT).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def discover(sequences_dir, annotations_dir, classes=None, max_frames=None, log=print):
    """(found, missing): sequences of the CTC table (:data:`CTC_TABLE`) present with their annotation folders.

    A raw file matches on its full stem (``RaceHorses_416x240_30`` is not ``RaceHorses_832x480_30``);
    ``missing`` lists (name, reason) for sequences without a file or annotations.
    """
    from svc.datasets.sfu_hw import find_annotation_dir

    table = read_yaml(CTC_TABLE)["sequences"]
    seq_root = Path(sequences_dir)
    if not seq_root.is_dir():
        raise InputError(f"--sequences {sequences_dir} is not a folder")
    files = {p.stem: p for p in seq_root.rglob("*.yuv")}
    found, missing = [], []
    for s in table:
        if classes and s["class"] not in classes:
            continue
        stems = [s["file"], *s.get("aliases", [])]
        path = next((files[x] for x in stems if x in files), None)
        if path is None:
            missing.append((s["name"], f"no {s['file']}.yuv under {seq_root}"))
            continue
        try:
            ann = find_annotation_dir(annotations_dir, s["file"], s["width"], s["height"])
        except (FileNotFoundError, ValueError) as e:
            missing.append((s["name"], f"annotations: {e}"))
            continue
        n = path.stat().st_size // (s["width"] * s["height"] * 3 // 2)
        frames = min(n, s["frames"], max_frames or n)
        found.append(dict(s, path=str(path), annotations=str(ann), frames=frames))
    return found, missing


class PointCache:
    """One JSON file per finished point, keyed by the point spec and the code version."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.version = code_version()

    def key(self, spec) -> str:
        blob = json.dumps({"spec": spec.key_fields(), "code": self.version, "size": os.path.getsize(spec.path)},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def get(self, spec):
        p = self.folder / f"{self.key(spec)}.json"
        from svc.evaluation.rows import EvaluationRow

        return EvaluationRow.from_dict(json.loads(p.read_text())) if p.exists() else None

    def put(self, spec, row):
        p = self.folder / f"{self.key(spec)}.json"
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(row.to_dict(), default=float))
        os.replace(tmp, p)


def _init_worker():
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass


def _run(spec):
    from svc.evaluation.point import run_point
    _init_worker()
    return run_point(spec)


def run_points(specs, cache: PointCache, jobs: int = 1, ray_address: str | None = None, progress=None):
    """Rows for all ``specs`` in order: cached ones read back, the rest computed (and cached)."""
    rows = [cache.get(s) for s in specs]
    todo = [i for i, r in enumerate(rows) if r is None]
    if progress:
        progress(len(specs) - len(todo))

    def done(i, row):
        rows[i] = row
        cache.put(specs[i], row)
        if progress:
            progress(1)

    if ray_address is not None:
        from svc.pipeline.parallel import connect_ray

        ray = connect_ray(ray_address)
        remote = ray.remote(_run)
        pending = {remote.remote(specs[i]): i for i in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done(pending.pop(ref), ray.get(ref))
    elif jobs > 1 and len(todo) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_run, specs[i]): i for i in todo}
            for f in as_completed(futs):
                done(futs[f], f.result())
    else:
        for i in todo:
            done(i, _run(specs[i]))
    return rows, len(todo)
