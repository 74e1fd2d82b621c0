"""Shipped enhancement models: the restoration network's weights and the block coder's context tables,
each identified by an id (the file's stem) and its SHA-256; matching them to streams."""
from __future__ import annotations

from pathlib import Path

from svc.config import resolve_path
from svc.errors import ModelError
from svc.shipped import find_shipped, identify

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def _identify(path: Path, what: str) -> dict:
    if not path.is_file():
        raise ModelError(f"{what} {path} not found (see docs/guide.md: Install), or pass --no-enhancement")
    return identify(path)


def _load_tables(path: Path):
    from svc.enhancement.context_tables import EntropyModel

    try:
        return EntropyModel.load(path)
    except Exception as e:  # noqa: BLE001 - any failure means an unusable file
        raise ModelError(f"cannot load block coder tables {path}: {e}") from None


def _load_restorer(path: Path):
    from svc.enhancement.restoration import Restorer

    return Restorer.load(path)


def load_codec_for_encoding(config, fmt):
    """The codec of a stream coded with ``config`` (:class:`svc.config.SvcConfig`: its enhancement
    section, and the base QP the restoration is told) in format ``fmt``."""
    from svc.enhancement.blockcodec import BlockCoderConfig
    from svc.enhancement.codec import EnhancementCodec

    cfg, base_qp = config.enhancement, config.base.qp
    tables_path = resolve_path(cfg.tables)
    ids = {"tables": _identify(tables_path, "block coder tables"), "restoration": None}
    restorer = None
    if cfg.restoration:
        rpath = resolve_path(cfg.restoration_model)
        ids["restoration"] = _identify(rpath, "restoration weights")
        restorer = _load_restorer(rpath)
    coder = BlockCoderConfig(temporal=cfg.temporal, blend=cfg.blend, mv_refine=cfg.mv_refine, skip=cfg.skip,
                             rdoq=cfg.rdoq, adapt=cfg.adapt, tile=cfg.tiles)
    return EnhancementCodec(fmt, cfg.quality, base_qp, restorer, _load_tables(tables_path), coder, ids)


def _find(entry: dict | None, what: str) -> Path:
    """The shipped file of ``entry`` ({"id", "sha256"}), checked against the stream's hash."""
    return find_shipped(entry, what, WEIGHTS_DIR, ".npz" if what == "block coder tables" else ".pt",
                        "; decode --layer base")


def load_codec_for_decoding(header):
    """The codec matching a stream's header; refuses weights or tables whose SHA-256 differs."""
    from svc.enhancement.codec import CODEC_ID, EnhancementCodec

    info = header.enhancement or {}
    if info.get("codec") != CODEC_ID:
        raise ModelError(f"the stream's enhancement layer is {info.get('codec')!r}; this decoder reads {CODEC_ID!r}")
    tables = _load_tables(_find(info.get("tables"), "block coder tables"))
    restorer = _load_restorer(_find(info["restoration"], "restoration weights")) if info.get("restoration") else None
    base_qp = float((header.base or {}).get("qp", 37))
    return EnhancementCodec(header.format, float(info.get("quality", 0.5)), base_qp, restorer, tables,
                            ids={k: info.get(k) for k in ("tables", "restoration")})
