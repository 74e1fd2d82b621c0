"""Speed and agreement of the ``nanodet`` detector's runtimes on 416x240 frames (input 416x256).

For each runtime variant: ms per frame of the network alone and of ``detect`` (YUV -> BGR,
letterbox, network, decode, NMS), one frame per call and batches of ``--batch`` frames, and the
agreement of its detections with plain PyTorch float32 (same class and IoU >= 0.9, largest score
difference). Frames: carphone and RaceHorses from ../shared/data, resized to 416x240.

Run: ``python tools/bench_nanodet.py [--threads 2,1] [--frames 8] [--batch 4] [--rounds 7]``; variants are
timed in interleaved rounds in one process, so that load from other jobs hits them alike.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def frames_416x240(n: int):
    """n real frames at 416x240: carphone (every 120/n-th of 120) and the two RaceHorses frames."""
    import cv2

    from svc.io import open_source
    from svc.io.frames import YuvFrame

    def resize(f):
        return YuvFrame(cv2.resize(f.y, (416, 240), interpolation=cv2.INTER_AREA),
                        cv2.resize(f.u, (208, 120), interpolation=cv2.INTER_AREA),
                        cv2.resize(f.v, (208, 120), interpolation=cv2.INTER_AREA))

    carphone = list(open_source(SHARED / "carphone_176x144_30.mp4"))
    horses = list(open_source(SHARED / "RaceHorses_832x480_30.yuv", max_frames=2))
    picked = carphone[:: max(1, len(carphone) // max(1, n - 2))][: n - 2] + horses
    return [resize(f) for f in picked]


def timed(fn, reps: int) -> float:
    """Median seconds of ``reps`` calls after one warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def agreement(ref, got) -> tuple[int, int, float]:
    """(matched, reference count, max score difference): detections of the same class with IoU >= 0.9."""
    from svc.analytics.detectors.box_ops import xywh_to_xyxy

    matched, total, worst = 0, 0, 0.0
    for a, b in zip(ref, got):
        total += len(a)
        if not len(a) or not len(b):
            continue
        import torch
        from torchvision.ops import box_iou

        iou = box_iou(torch.from_numpy(xywh_to_xyxy(a.boxes)), torch.from_numpy(xywh_to_xyxy(b.boxes))).numpy()
        same = (a.classes[:, None] == b.classes[None, :]) & (iou >= 0.9)
        for i in range(len(a)):
            j = np.flatnonzero(same[i])
            if len(j):
                matched += 1
                worst = max(worst, float(np.abs(b.scores[j] - a.scores[i]).min()))
    return matched, total, worst


def jit_runner(net, threads):
    """torch.jit.trace + freeze + optimize_for_inference (folds and fuses conv + LeakyReLU where oneDNN can)."""
    import torch

    from svc.analytics.detectors.nanodet_runtime import TorchRunner

    torch.set_num_threads(threads)
    with torch.inference_mode():
        traced = torch.jit.trace(net.eval(), torch.zeros(1, 3, 256, 416), check_trace=False)
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    r = TorchRunner(net, threads)
    r.net = frozen
    r.name = "torch-jit-frozen"
    return r


def make_variant(name: str, net, threads: int):
    """A runner for variant ``name``: torch, torch-cl (channels-last), torch-jit, onnxruntime, opencv."""
    from svc.analytics.detectors.nanodet_runtime import make_runner

    if name == "torch-jit":
        return jit_runner(net, threads)
    return make_runner("torch" if name.startswith("torch") else name, net, threads, channels_last=name == "torch-cl")


def set_threads(name: str, threads: int):
    """Process-wide thread settings of the variant's runtime (torch and OpenCV keep one global pool)."""
    import cv2
    import torch

    if name.startswith("torch"):
        torch.set_num_threads(threads)
    if name == "opencv":
        cv2.setNumThreads(threads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="2,1", help="thread counts to measure, comma-separated")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (median and best reported)")
    ap.add_argument("--variants", default="torch,torch-cl,torch-jit,onnxruntime,opencv")
    args = ap.parse_args(argv)

    import copy

    import torch

    from svc.analytics.detectors import make_detector

    frames = frames_416x240(args.frames)
    base = make_detector("nanodet", runtime="torch")
    ref = base.detect_batch(frames)
    x1 = base.prepare(frames[0])[0]
    xb = np.concatenate([base.prepare(f)[0] for f in frames[:args.batch]])
    print(f"{len(frames)} real frames at 416x240 -> network input {x1.shape[3]}x{x1.shape[2]}; torch "
          f"{torch.__version__}; reference (torch float32) {sum(map(len, ref))} detections; load average "
          f"{open('/proc/loadavg').read().split()[0]}")
    runs = {}
    for th in [int(t) for t in args.threads.split(",")]:
        for v in args.variants.split(","):
            try:
                set_threads(v, th)
                runs[(v, th)] = make_variant(v, copy.deepcopy(base.net), th)
            except Exception as e:  # noqa: BLE001 - report and go on with the next variant
                print(f"{v} ({th} threads) unavailable: {str(e).splitlines()[0]}")
    dets = {}
    for key, runner in runs.items():  # warm-up (shape-specialising runtimes) and agreement
        set_threads(key[0], key[1])
        det = copy.copy(base)
        det.runner = runner
        dets[key] = det
        runner(x1), runner(xb)
        det.detect_batch(frames[:args.batch])
    times = {k: {"b1": [], "bn": [], "detect": [], "detect_bn": []} for k in runs}
    cpu = {k: [] for k in runs}  # process CPU seconds per frame of the network, batch of one
    for _ in range(args.rounds):
        for key, runner in runs.items():
            set_threads(key[0], key[1])
            t = times[key]
            t0, c0 = time.perf_counter(), time.process_time()
            runner(x1)
            t["b1"].append(time.perf_counter() - t0)
            cpu[key].append(time.process_time() - c0)
            t0 = time.perf_counter()
            runner(xb)
            t["bn"].append((time.perf_counter() - t0) / len(xb))
            t0 = time.perf_counter()
            dets[key].detect(frames[0])
            t["detect"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            dets[key].detect_batch(frames[:args.batch])
            t["detect_bn"].append((time.perf_counter() - t0) / args.batch)
    print(f"ms per frame, median (best) of {args.rounds} interleaved rounds; 'net' = network alone, 'detect' = "
          f"YUV->BGR, letterbox, network, decode, NMS; b1 one frame a call, b{args.batch} {args.batch} frames a call; "
          f"cpu = process CPU ms of 'net b1' (all threads; spinning counts)")
    print(f"{'runtime':12s} {'thr':>3s} {'net b1':>13s} {'net b' + str(args.batch):>13s} {'detect b1':>13s} "
          f"{'detect b' + str(args.batch):>13s} {'cpu':>6s}  agreement with torch float32")
    for key, t in times.items():
        set_threads(key[0], key[1])
        m, n, ds = agreement(ref, dets[key].detect_batch(frames))
        cols = " ".join(f"{1000 * np.median(v):6.1f} ({1000 * min(v):4.1f})" for v in t.values())
        print(f"{key[0]:12s} {key[1]:3d} {cols} {1000 * np.median(cpu[key]):6.1f}  {m}/{n} boxes, "
              f"max score diff {ds:.1e}")
    print(f"load average at the end {open('/proc/loadavg').read().split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
