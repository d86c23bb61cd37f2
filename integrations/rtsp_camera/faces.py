"""Faces in camera frames: dlib's HOG detector, its 128-d ResNet descriptor, and the residents' gallery.

The choice of detector and recogniser was measured (bench/face_models.py, docs/cameras.md "Faces:
choice by measurement"). Models come from the `face-recognition-models` package (nothing is
downloaded); the landmark and descriptor models are loaded once per process, on first use, under a
lock, and the (small) HOG detector once per thread.

The GIL (measured by the bench: a 1 ms sleep loop beside a thread calling back to back): dlib's HOG
detection releases it (the loop's gaps stay ~5-10 ms around a 30-70 ms detection), but the
descriptor holds it for its whole 130-400 ms, so in the hub's process every face encoded stalls the
event loop by that long. Run `FaceEncoder` (or the whole `FaceAnalyzer`) in a worker process;
detection alone may stay in a thread. Thread safety: each thread gets its own HOG detector (a shared
one gave wrong boxes under concurrent use), descriptors are computed one at a time under a lock, and
`Gallery` has its own lock, so one worker thread per camera is safe.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

MODELS_PACKAGE = "face_recognition_models"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def _dlib() -> Any:
    """dlib, imported on first use: its module init holds the GIL for ~0.1-0.2 s, and in the hub only the
    face worker process needs it (recognition.py), so the hub's own process never pays that."""
    import dlib  # type: ignore[import-untyped]  # no stubs; pybind11 module

    return dlib
DESCRIPTOR_SIZE = 128
DEFAULT_MAX_DISTANCE = 0.55  # same person <= 0.43, different people >= 0.65 (bench/face_models.py, TESTING.md)

T = TypeVar("T")


class FaceModelsMissing(RuntimeError):
    """The package that ships dlib's face models is not installed (or lacks a model file)."""


def models_dir(package: str = MODELS_PACKAGE) -> Path:
    """Where `face_recognition_models` keeps its .dat files, found without importing the package.

    Its own `__init__` imports `pkg_resources`, which setuptools >= 82 no longer ships.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise FaceModelsMissing(
            f"face detection and recognition need the Python package {package!r}, which is not installed "
            f"(pip install {pip_name})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(filename: str, package: str = MODELS_PACKAGE) -> Path:
    """The path of one model file of `face_recognition_models`, or FaceModelsMissing naming the package."""
    path = models_dir(package) / filename
    if not path.is_file():
        raise FaceModelsMissing(f"the package {package!r} has no model {filename}; reinstall it")
    return path


_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}
# dlib's network keeps its layer outputs in the instance: one descriptor at a time per process
# (it holds the GIL throughout anyway, so the lock costs no parallelism).
_ENCODE_LOCK = threading.Lock()


def _shared(key: str, load: Callable[[], T]) -> T:
    """One instance per process of an expensive model, loaded by the first thread that asks."""
    model = _LOADED.get(key)
    if model is None:
        with _LOCK:
            model = _LOADED.get(key)
            if model is None:
                model = _LOADED[key] = load()
    return model


_THREAD = threading.local()


def _frontal_detector() -> Any:
    """This thread's HOG detector: dlib's object detectors keep scratch buffers, and two threads
    scanning with one instance (it releases the GIL) found faces that were not there."""
    detector = getattr(_THREAD, "hog", None)
    if detector is None:
        detector = _THREAD.hog = _dlib().get_frontal_face_detector()
    return detector


def _shape_predictor() -> Any:
    return _shared("shape5", lambda: _dlib().shape_predictor(str(model_path(SHAPE_MODEL))))


def _descriptor_net() -> Any:
    return _shared("resnet", lambda: _dlib().face_recognition_model_v1(str(model_path(DESCRIPTOR_MODEL))))


def _frame(image: np.ndarray) -> np.ndarray:
    """The frame contract (uint8, height x width x 3, RGB), C-contiguous as dlib needs it."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB frame of shape (h, w, 3), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


@dataclass(frozen=True, slots=True)
class Box:
    """A detected face in frame pixels; `score` is the detector's confidence (dlib HOG: > 0, ~1.5 for a clear face)."""

    x: int
    y: int
    w: int
    h: int
    score: float = 0.0

    def as_list(self) -> list[int]:
        """[x, y, w, h], as events and the dashboard carry it."""
        return [self.x, self.y, self.w, self.h]


class FaceDetector:
    """dlib's HOG frontal face detector over whole frames; the smallest face it finds is ~80 px (no upsampling)."""

    def __init__(self, *, upsample: int = 0, min_score: float = 0.0) -> None:
        # Upsampling finds ~40 px faces but costs 4x, and found the astronaut's mission patch as a face.
        self.upsample = upsample
        self.min_score = min_score

    def load(self) -> None:
        """Load the model now rather than on the first frame."""
        _frontal_detector()

    def detect(self, image: np.ndarray) -> list[Box]:
        """The faces in an RGB frame, best first, clipped to the frame."""
        frame = _frame(image)
        height, width = frame.shape[:2]
        rects, scores, _kinds = _frontal_detector().run(frame, self.upsample, self.min_score)
        boxes = []
        for rect, score in zip(rects, scores, strict=True):
            left, top = max(0, rect.left()), max(0, rect.top())
            right, bottom = min(width, rect.right() + 1), min(height, rect.bottom() + 1)
            if right > left and bottom > top:
                boxes.append(Box(left, top, right - left, bottom - top, float(score)))
        return sorted(boxes, key=lambda box: -box.score)


class FaceEncoder:
    """dlib's ResNet face descriptor (128 floats) on the 5-point aligned face chip."""

    def __init__(self, *, jitters: int = 0) -> None:
        # Jitters average re-sampled chips: each one costs another full network pass for ~1% accuracy.
        self.jitters = jitters

    def load(self) -> None:
        """Load both models now rather than on the first face."""
        _shape_predictor()
        _descriptor_net()

    def encode(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The descriptor of the face in `box` (float64, shape (128,))."""
        frame = _frame(image)
        rect = _dlib().rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        predictor, net = _shape_predictor(), _descriptor_net()
        with _ENCODE_LOCK:
            shape = predictor(frame, rect)
            descriptor = net.compute_face_descriptor(frame, shape, self.jitters)
        return np.asarray(descriptor, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Match:
    """The gallery's answer for one descriptor: the nearest resident within the limit, or None."""

    name: str | None
    distance: float | None  # to the nearest enrolled descriptor, whoever it is; None for an empty gallery
    id: int | None = None  # the enrolled descriptor that matched


@dataclass(frozen=True, slots=True)
class Entry:
    """One enrolled descriptor of a resident."""

    id: int
    name: str
    descriptor: np.ndarray = field(compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: {id, name, descriptor: [128 floats]}."""
        return {"id": self.id, "name": self.name, "descriptor": [float(v) for v in self.descriptor]}


def _descriptor(values: Iterable[float] | np.ndarray) -> np.ndarray:
    descriptor = np.asarray(values, dtype=np.float64).reshape(-1)
    if descriptor.shape != (DESCRIPTOR_SIZE,) or not np.all(np.isfinite(descriptor)):
        raise ValueError(f"a face descriptor is {DESCRIPTOR_SIZE} finite floats, got shape {descriptor.shape}")
    return descriptor


class Gallery:
    """Enrolled residents, several descriptors each; matched by Euclidean distance to the nearest one.

    Thread-safe: the loop enrols and removes while camera workers match.
    """

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, Entry] = {}
        self._matrix: np.ndarray | None = None  # rows of every descriptor, rebuilt after a change
        self._ids: list[int] = []
        for entry in entries:
            self._entries[entry.id] = Entry(entry.id, entry.name, _descriptor(entry.descriptor))
        self._next_id = max(self._entries, default=0) + 1

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, name: str, descriptor: np.ndarray | Sequence[float]) -> int:
        """Enrol one more descriptor of `name`; returns its id."""
        if not name.strip():
            raise ValueError("a resident needs a name")
        entry_descriptor = _descriptor(descriptor)
        with self._lock:
            entry_id = self._next_id
            self._next_id += 1
            self._entries[entry_id] = Entry(entry_id, name, entry_descriptor)
            self._matrix = None
        return entry_id

    def remove(self, entry_id: int) -> None:
        """Forget one descriptor; KeyError for an unknown id."""
        with self._lock:
            del self._entries[entry_id]
            self._matrix = None

    def remove_person(self, name: str) -> int:
        """Forget every descriptor of `name`; how many were removed."""
        with self._lock:
            ids = [entry.id for entry in self._entries.values() if entry.name == name]
            for entry_id in ids:
                del self._entries[entry_id]
            self._matrix = None
        return len(ids)

    def entries(self) -> list[Entry]:
        """Every enrolled descriptor, oldest first."""
        with self._lock:
            return sorted(self._entries.values(), key=lambda entry: entry.id)

    def names(self) -> list[str]:
        """The enrolled residents, sorted."""
        with self._lock:
            return sorted({entry.name for entry in self._entries.values()})

    def match(self, descriptor: np.ndarray, max_distance: float = DEFAULT_MAX_DISTANCE) -> Match:
        """The resident nearest to `descriptor` if within `max_distance`, else Match(None, nearest distance)."""
        probe = _descriptor(descriptor)
        with self._lock:
            if self._matrix is None:
                self._ids = sorted(self._entries)
                self._matrix = np.stack([self._entries[i].descriptor for i in self._ids]) if self._ids else None
            if self._matrix is None:
                return Match(None, None)
            distances = np.linalg.norm(self._matrix - probe, axis=1)
            best = int(np.argmin(distances))
            entry = self._entries[self._ids[best]]
        distance = float(distances[best])
        if distance > max_distance:
            return Match(None, distance)
        return Match(entry.name, distance, entry.id)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready entries (for a sqlite JSON column or a file)."""
        return [entry.as_dict() for entry in self.entries()]

    @classmethod
    def from_list(cls, items: Iterable[dict[str, Any]]) -> Gallery:
        """The inverse of `to_list`; ValueError on a malformed entry."""
        try:
            entries = [Entry(int(item["id"]), str(item["name"]), _descriptor(item["descriptor"])) for item in items]
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a face gallery entry: {err}") from err
        return cls(entries)

    def to_bytes(self) -> bytes:
        """The gallery as UTF-8 JSON (floats round-trip exactly)."""
        return json.dumps({"version": 1, "entries": self.to_list()}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Gallery:
        """The inverse of `to_bytes`."""
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("version") != 1:
            raise ValueError("not a face gallery (version 1)")
        return cls.from_list(document["entries"])


@dataclass(frozen=True, slots=True)
class Face:
    """One face in a frame and who it is: `known` when it matched an enrolled resident."""

    box: Box
    known: bool
    name: str | None
    distance: float | None  # to the nearest enrolled descriptor; None when not recognised or the gallery is empty
    descriptor: np.ndarray | None = field(default=None, compare=False, repr=False)  # for enrolment

    def as_dict(self) -> dict[str, Any]:
        """The event's shape: {known, name, distance, box: [x, y, w, h]}."""
        distance = None if self.distance is None else round(self.distance, 3)
        return {"known": self.known, "name": self.name, "distance": distance, "box": self.box.as_list()}


class FaceAnalyzer:
    """Detect the faces of a frame, describe each and look it up in the gallery."""

    def __init__(
        self,
        gallery: Gallery | None = None,
        *,
        detector: FaceDetector | None = None,
        encoder: FaceEncoder | None = None,
        max_distance: float = DEFAULT_MAX_DISTANCE,
    ) -> None:
        self.gallery = gallery if gallery is not None else Gallery()
        self.detector = detector or FaceDetector()
        self.encoder = encoder or FaceEncoder()
        self.max_distance = max_distance

    def load(self) -> None:
        """Load every model (~0.5 s) so the first frame does not pay for it."""
        self.detector.load()
        self.encoder.load()

    def analyze(self, image: np.ndarray, *, recognise: bool = True) -> list[Face]:
        """The faces of an RGB frame; with `recognise`, each described and matched (~100 ms per face)."""
        faces = []
        for box in self.detector.detect(image):
            if not recognise:
                faces.append(Face(box, False, None, None))
                continue
            descriptor = self.encoder.encode(image, box)
            match = self.gallery.match(descriptor, self.max_distance)
            faces.append(Face(box, match.name is not None, match.name, match.distance, descriptor))
        return faces


def analyze_frame(
    image: np.ndarray,
    gallery: bytes,
    *,
    recognise: bool = True,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    upsample: int = 0,
) -> list[Face]:
    """`FaceAnalyzer.analyze` as a plain function of picklable arguments, for a worker process.

    The descriptor holds the GIL (see the module's docstring), so the pipeline runs this in a
    `concurrent.futures.ProcessPoolExecutor`: the frame (~1 MB) and the gallery (`Gallery.to_bytes()`,
    ~3 KB a resident) travel each call, the models load once per worker process.
    """
    # Cheap to build: the models are per process (module level), loaded by the first call.
    analyzer = FaceAnalyzer(Gallery.from_bytes(gallery), detector=FaceDetector(upsample=upsample),
                            max_distance=max_distance)  # fmt: skip
    return analyzer.analyze(image, recognise=recognise)
