"""Face detectors and dlib's face descriptor on camera-sized frames: cost, hits, false alarms, the GIL.

Run from the repository root (either form):

    .venv/bin/python bench/face_models.py                    # ~1 min
    .venv/bin/python -m bench.face_models --repeat 5
    .venv/bin/python bench/face_models.py --mediapipe-python /path/to/venv/bin/python

Issue 8 asks to choose the detector and the recogniser by measurement. Every candidate ships its
model inside a PyPI package. Frames are 640x480 RGB scenes built from scikit-image's sample images
(tests/integrations/rtsp_camera/face_images.py): the astronaut and transformed copies of her (flip,
closer, further, darker, brighter, sensor noise, JPEG q25), the cameraman (another real person, in
three-quarter view), and faceless scenes (coffee, a cat, a rocket, coins, text, the Hubble deep
field, a stained tissue, colour bars, noise, a grey wall).

Detectors: dlib's HOG (upsample 0 and 1) through integrations/rtsp_camera/faces.py, OpenCV's Haar
frontal cascade (scaleFactor 1.1 and 1.2, minNeighbors 3, minSize 60; needs
`opencv-python-headless<5`, skipped when missing), and MediaPipe 0.10.21's BlazeFace (short and full
range) when `--mediapipe-python` names an interpreter that has it: mediapipe pulls the GUI OpenCV,
so it belongs in a throwaway venv, and runs there as a child process on the same frames.

Columns: ms/frame is the median over every scene and repeat; "x HOG0" divides by dlib HOG without
upsampling (the baseline); "2/s budget" is the share of one core that 2 detections a second take.
A hit is a box overlapping the annotated face by IoU >= 0.3 (detectors draw faces differently
tall); every other box is a false alarm. The GIL rows run one operation back to back in a thread
while the main thread sleeps 1 ms in a loop, as an event loop would: if the operation holds the GIL,
the main thread's gaps grow to the operation's length. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests" / "integrations" / "rtsp_camera"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import face_images
import numpy as np
from face_images import Scene, overlap

from integrations.rtsp_camera.faces import Box, FaceDetector, FaceEncoder, Gallery

HIT_IOU = 0.3
DETECTIONS_PER_S = 2
MATCH_DISTANCE = 0.55

Raw = tuple[int, int, int, int, float]
DetectFn = Callable[[np.ndarray], list[Raw]]

# Runs in the mediapipe interpreter: frames from an .npz in, boxes and timings as JSON out.
MEDIAPIPE_CHILD = """
import json, sys, time
import numpy as np
import mediapipe as mp
frames = np.load(sys.argv[1])
repeat = int(sys.argv[2])
out = {"version": mp.__version__}
for selection, label in ((0, "short"), (1, "full")):
    detector = mp.solutions.face_detection.FaceDetection(model_selection=selection, min_detection_confidence=0.5)
    rows = {}
    for key in frames.files:
        image = np.ascontiguousarray(frames[key])
        h, w = image.shape[:2]
        detector.process(image)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = detector.process(image)
            times.append((time.perf_counter() - start) * 1000)
        boxes = []
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            boxes.append([round(b.xmin * w), round(b.ymin * h), round(b.width * w), round(b.height * h), d.score[0]])
        rows[key] = {"ms": times, "boxes": boxes}
    out[label] = rows
    detector.close()
print(json.dumps(out))
"""


@dataclass(frozen=True, slots=True)
class DetectorRow:
    """One detector's measurements over every scene."""

    name: str
    ms: float
    hits: int
    positives: int
    extra_on_positives: int
    false_on_negatives: int
    negatives_with_false: int
    negatives: int
    ships: str
    missed: tuple[str, ...]
    false: tuple[str, ...]  # scenes with a box that is not the face, with the box's score


def _package(name: str) -> str:
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} (not installed)"


def hog(upsample: int) -> DetectFn:
    detector = FaceDetector(upsample=upsample)

    def detect(image: np.ndarray) -> list[Raw]:
        return [(b.x, b.y, b.w, b.h, b.score) for b in detector.detect(image)]

    return detect


def haar(scale_factor: float) -> DetectFn | None:
    try:
        import cv2  # optional: only this bench uses OpenCV
    except ImportError:
        return None
    folder = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]  # cv2's stubs lack `data`
    cascade = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_default.xml"))

    def detect(image: np.ndarray) -> list[Raw]:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        found = cascade.detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=3, minSize=(60, 60))
        return [(int(x), int(y), int(w), int(h), 1.0) for x, y, w, h in found]

    return detect


def score(name: str, ships: str, scenes: Sequence[Scene], boxes: Sequence[list[Raw]], ms: float) -> DetectorRow:
    """Hits and false alarms of one detector's boxes on the scenes."""
    hits = extra = false_neg = negatives_with_false = 0
    missed, false = [], []
    for scene, found in zip(scenes, boxes, strict=True):
        matched = [] if scene.face is None else [b for b in found if overlap(b[:4], scene.face) >= HIT_IOU]
        wrong = [b[4] for b in found if b not in matched[:1]]
        if wrong:
            false.append(f"{scene.name} x{len(wrong)} (score <= {max(wrong):.2f})")
        if scene.face is None:
            false_neg += len(found)
            negatives_with_false += bool(found)
            continue
        hits += bool(matched)
        if not matched:
            missed.append(scene.name)
        extra += len(found) - min(1, len(matched))
    positives = sum(scene.face is not None for scene in scenes)
    return DetectorRow(name, ms, hits, positives, extra, false_neg, negatives_with_false,
                       len(scenes) - positives, ships, tuple(missed), tuple(false))  # fmt: skip


def run_detector(name: str, ships: str, detect: DetectFn, scenes: Sequence[Scene], repeat: int) -> DetectorRow:
    """Time `detect` on every scene `repeat` times (after one warm-up call each) and score its boxes."""
    times: list[float] = []
    boxes: list[list[Raw]] = []
    for scene in scenes:
        found = detect(scene.image)
        for _ in range(repeat):
            start = time.perf_counter()
            found = detect(scene.image)
            times.append((time.perf_counter() - start) * 1000)
        boxes.append(found)
    return score(name, ships, scenes, boxes, statistics.median(times))


def mediapipe_rows(python: str, scenes: Sequence[Scene], repeat: int) -> tuple[list[DetectorRow], str]:
    """BlazeFace in another interpreter on the same frames; ([], why) when that fails."""
    with tempfile.TemporaryDirectory() as tmp:
        frames = Path(tmp) / "frames.npz"
        arrays: dict[str, Any] = {f"s{i}": scene.image for i, scene in enumerate(scenes)}
        np.savez(frames, **arrays)
        result = subprocess.run([python, "-c", MEDIAPIPE_CHILD, str(frames), str(repeat)],
                                capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    if result.returncode != 0:
        return [], f"mediapipe child failed: {result.stderr.strip().splitlines()[-1:]}"
    out = json.loads(result.stdout.strip().splitlines()[-1])
    rows = []
    for label in ("short", "full"):
        data = out[label]
        keys = [f"s{i}" for i in range(len(scenes))]
        boxes: list[list[Raw]] = [[(*b[:4], float(b[4])) for b in data[k]["boxes"]] for k in keys]
        ms = statistics.median(t for k in keys for t in data[k]["ms"])
        ships = f"mediapipe {out['version']} wheel (+ GUI OpenCV)"
        rows.append(score(f"MediaPipe BlazeFace {label}-range", ships, scenes, boxes, ms))
    return rows, ""


def loop_gaps(work: Callable[[], object], seconds: float = 1.5) -> tuple[float, float, float]:
    """(p99 gap ms, max gap ms, call ms) of a 1 ms sleep loop while `work` runs back to back in a thread."""
    stop = threading.Event()
    calls: list[float] = []

    def worker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            work()
            calls.append((time.perf_counter() - start) * 1000)

    thread = threading.Thread(target=worker, name="bench-gil")
    thread.start()
    try:
        time.sleep(0.1)
        gaps = []
        last = time.perf_counter()
        end = last + seconds
        while last < end:
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now
    finally:
        stop.set()
        thread.join()
    gaps.sort()
    return gaps[int(len(gaps) * 0.99)], gaps[-1], statistics.median(calls)


@dataclass(frozen=True, slots=True)
class Recognition:
    """Descriptor cost and the distances between people."""

    load_ms: float
    landmarks_ms: float
    descriptor_ms: float
    same: list[tuple[str, float]]
    different: list[tuple[str, float]]
    undetected: list[str]


def recognition(repeat: int) -> Recognition:
    """Enrol the astronaut, then measure every other scene's distance to her with HOG0 boxes."""
    import dlib  # type: ignore[import-untyped]  # the parts of FaceEncoder, timed one by one

    from integrations.rtsp_camera.faces import DESCRIPTOR_MODEL, SHAPE_MODEL, model_path

    start = time.perf_counter()
    encoder = FaceEncoder()
    encoder.load()
    load_ms = (time.perf_counter() - start) * 1000
    predictor = dlib.shape_predictor(str(model_path(SHAPE_MODEL)))
    net = dlib.face_recognition_model_v1(str(model_path(DESCRIPTOR_MODEL)))
    detector = FaceDetector()
    base = face_images.astronaut()
    gallery = Gallery()
    base_box = _face_box(detector, base)
    assert base_box is not None, "the astronaut was not detected"
    gallery.add("astronaut", encoder.encode(base.image, base_box))
    same: list[tuple[str, float]] = []
    different: list[tuple[str, float]] = []
    undetected: list[str] = []
    landmarks: list[float] = []
    descriptors: list[float] = []
    for scene in [*face_images.astronaut_variants()[1:], face_images.cameraman()]:
        box = _face_box(detector, scene)
        if box is None:
            undetected.append(scene.name)
            continue
        rect = dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        for _ in range(repeat):
            t0 = time.perf_counter()
            shape = predictor(scene.image, rect)
            t1 = time.perf_counter()
            net.compute_face_descriptor(scene.image, shape, 0)
            t2 = time.perf_counter()
            landmarks.append((t1 - t0) * 1000)
            descriptors.append((t2 - t1) * 1000)
        distance = gallery.match(encoder.encode(scene.image, box)).distance
        assert distance is not None
        (same if scene.person == "astronaut" else different).append((scene.name, distance))
    return Recognition(load_ms, statistics.median(landmarks), statistics.median(descriptors), same, different,
                       undetected)  # fmt: skip


def _face_box(detector: FaceDetector, scene: Scene) -> Box | None:
    assert scene.face is not None
    return next((b for b in detector.detect(scene.image) if overlap(b.as_list(), scene.face) >= HIT_IOU), None)  # type: ignore[arg-type]


def gil_rows() -> list[tuple[str, float, float, float]]:
    """Loop gaps while each operation runs in a thread, and with nothing running."""
    scene = face_images.astronaut()
    detector = FaceDetector()
    encoder = FaceEncoder()
    encoder.load()
    box = detector.detect(scene.image)[0]
    operations: list[tuple[str, Callable[[], object]]] = [
        ("nothing (idle loop)", lambda: time.sleep(0.01)),
        ("dlib HOG detect, upsample 0", lambda: detector.detect(scene.image)),
        ("dlib landmarks + descriptor", lambda: encoder.encode(scene.image, box)),
    ]
    opencv = haar(1.2)
    if opencv is not None:
        operations.append(("OpenCV Haar 1.2", lambda: opencv(scene.image)))
    return [(name, *loop_gaps(work)) for name, work in operations]


def format_report(rows: Sequence[DetectorRow], notes: Sequence[str], rec: Recognition,
                  gil: Sequence[tuple[str, float, float, float]], repeat: int) -> str:  # fmt: skip
    """The detector table, the recognition distances and the GIL table."""
    base = next(row.ms for row in rows if row.name.endswith("upsample 0"))
    lines = [
        (f"Face detection on 640x480 RGB frames; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
         f"load {os.getloadavg()[0]:.1f}; {repeat} timed calls per scene; {_package('dlib-bin')}, "
         f"{_package('opencv-python-headless')}, {_package('face-recognition-models')}"),
        (f"{'detector':<34}{'ms/frame':>9}{'x HOG0':>8}{'2/s budget':>11}{'hits':>7}{'extra':>7}"
         f"{'false (negatives)':>19}  model shipped in"),
        "-" * 130,
    ]
    for row in rows:
        lines.append(
            f"{row.name:<34}{row.ms:>9.1f}{row.ms / base:>8.2f}{row.ms * DETECTIONS_PER_S / 10:>10.1f}%"
            f"{row.hits:>4}/{row.positives:<2}{row.extra_on_positives:>7}"
            f"{row.false_on_negatives:>8} ({row.negatives_with_false}/{row.negatives} scenes)  {row.ships}"
        )
    for row in rows:
        if row.missed:
            lines.append(f"  {row.name} missed: {', '.join(row.missed)}")
        if row.false:
            lines.append(f"  {row.name} false alarms: {', '.join(row.false)}")
    lines.extend(f"  {note}" for note in notes)
    lines += [
        "",
        (f"Recognition: dlib ResNet descriptor (face-recognition-models), 5-point landmarks; models loaded in "
         f"{rec.load_ms:.0f} ms"),
        (f"  per face: landmarks {rec.landmarks_ms:.1f} ms + descriptor {rec.descriptor_ms:.1f} ms = "
         f"{rec.landmarks_ms + rec.descriptor_ms:.1f} ms ({(rec.landmarks_ms + rec.descriptor_ms) / base:.1f}x HOG0)"),
        "  distance to the enrolled astronaut (her first scene):",
    ]
    lines.extend(f"    same person   {name:<30}{d:.3f}" for name, d in rec.same)
    lines.extend(f"    other person  {name:<30}{d:.3f}" for name, d in rec.different)
    if rec.undetected:
        lines.append(f"    not detected (no descriptor): {', '.join(rec.undetected)}")
    if rec.same and rec.different:
        worst_same, best_other = max(d for _, d in rec.same), min(d for _, d in rec.different)
        verdict = "separates them" if worst_same <= MATCH_DISTANCE < best_other else "does NOT separate them"
        lines.append(f"  same person <= {worst_same:.3f}, other person >= {best_other:.3f}: "
                     f"threshold {MATCH_DISTANCE} {verdict}")  # fmt: skip
    lines += [
        "",
        "GIL: a 1 ms sleep loop on the main thread while the operation runs back to back in another thread",
        f"{'operation':<34}{'call ms':>9}{'loop gap p99':>14}{'max':>9}  GIL",
        "-" * 80,
    ]
    for name, p99, worst, call in gil:
        held = "" if name.startswith("nothing") else ("held" if p99 >= 0.5 * call else "released")
        lines.append(f"{name:<34}{call:>9.1f}{p99:>12.1f}ms{worst:>7.1f}ms  {held}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per scene (after one warm-up)")
    parser.add_argument("--mediapipe-python", help="an interpreter with mediapipe==0.10.21 (a throwaway venv)")
    args = parser.parse_args(argv)
    scenes = [*face_images.astronaut_variants(), face_images.cameraman(), *face_images.negatives()]
    detectors: list[tuple[str, str, DetectFn | None]] = [
        ("dlib HOG, upsample 0", "dlib-bin (in the library)", hog(0)),
        ("dlib HOG, upsample 1", "dlib-bin (in the library)", hog(1)),
        ("OpenCV Haar, scaleFactor 1.1", "opencv-python-headless<5 (cv2.data)", haar(1.1)),
        ("OpenCV Haar, scaleFactor 1.2", "opencv-python-headless<5 (cv2.data)", haar(1.2)),
    ]
    rows, notes = [], []
    for name, ships, detect in detectors:
        if detect is None:
            notes.append(f"{name}: skipped, opencv-python-headless<5 is not installed")
            continue
        rows.append(run_detector(name, ships, detect, scenes, args.repeat))
    if args.mediapipe_python:
        extra, why = mediapipe_rows(args.mediapipe_python, scenes, args.repeat)
        rows.extend(extra)
        if why:
            notes.append(why)
    else:
        notes.append("MediaPipe BlazeFace: not measured (no --mediapipe-python); TESTING.md: ~2 ms/frame, "
                     "no false positives on the negatives")  # fmt: skip
    print(format_report(rows, notes, recognition(args.repeat), gil_rows(), args.repeat))


if __name__ == "__main__":
    main()
