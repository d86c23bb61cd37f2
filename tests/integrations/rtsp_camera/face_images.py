"""Camera-sized test scenes (640x480 RGB) built from images that ship inside the scikit-image wheel.

People: the astronaut (Eileen Collins, a NASA portrait in the public domain) and the cameraman
(scikit-image's `camera()`, released by its photographer under CC0). Negatives: coffee, a cat
(chelsea), a rocket, coins, a page of text, the Hubble deep field, SMPTE-like colour bars (what
GStreamer's `videotestsrc` paints) and noise. Nothing is downloaded.

Each scene carries the true face box (hand-annotated on the source image, moved through the same
transform), so a detector's answer can be checked by overlap.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import skimage.data
from PIL import Image

WIDTH = 640
HEIGHT = 480
BACKGROUND = 96  # a mid-grey wall around pictures smaller than the frame

# The face on the source images, (x, y, w, h): forehead to chin, cheek to cheek.
ASTRONAUT_FACE = (176, 72, 96, 108)  # on skimage.data.astronaut(), 512x512
CAMERAMAN_FACE = (207, 122, 53, 75)  # on skimage.data.camera(), 512x512: eyebrows to chin, ear to nose

Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Scene:
    """One 640x480 RGB frame, what it shows, and where the face is (None when there is none)."""

    name: str
    person: str | None
    image: np.ndarray
    face: Box | None


def _rgb(image: np.ndarray) -> np.ndarray:
    """Any scikit-image sample as uint8 RGB."""
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))


def _place(image: np.ndarray, face: Box | None = None) -> tuple[np.ndarray, Box | None]:
    """Scale `image` to fit 640x480 (keeping its aspect) and centre it on a grey wall; move the face box too."""
    h, w = image.shape[:2]
    scale = min(WIDTH / w, HEIGHT / h)
    nw, nh = round(w * scale), round(h * scale)
    frame = np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    x0, y0 = (WIDTH - nw) // 2, (HEIGHT - nh) // 2
    frame[y0 : y0 + nh, x0 : x0 + nw] = _resize(image, nw, nh) if (nw, nh) != (w, h) else image
    if face is None:
        return frame, None
    fx, fy, fw, fh = face
    return frame, (x0 + round(fx * scale), y0 + round(fy * scale), round(fw * scale), round(fh * scale))


def _crop(image: np.ndarray, face: Box, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, Box]:
    fx, fy, fw, fh = face
    return image[y : y + h, x : x + w], (fx - x, fy - y, fw, fh)


def astronaut() -> Scene:
    """The astronaut at her own size (512 px tall, top 480 rows), centred: a face of ~90 px."""
    image, face = _crop(_rgb(skimage.data.astronaut()), ASTRONAUT_FACE, 0, 0, 512, 480)
    frame, box = _place(image, face)
    return Scene("astronaut", "astronaut", frame, box)


def _flip(scene: Scene) -> Scene:
    assert scene.face is not None
    x, y, w, h = scene.face
    return Scene("astronaut flipped", scene.person, np.ascontiguousarray(scene.image[:, ::-1]), (WIDTH - x - w, y, w, h))


def _scaled(scene: Scene, factor: float, name: str) -> Scene:
    image = np.clip(scene.image.astype(np.float32) * factor, 0, 255).astype(np.uint8)
    return Scene(name, scene.person, image, scene.face)


def _zoomed() -> Scene:
    """A tighter crop around the face, enlarged to the frame: the same person, nearer the camera."""
    image, face = _crop(_rgb(skimage.data.astronaut()), ASTRONAUT_FACE, 64, 0, 384, 288)
    frame, box = _place(image, face)
    return Scene("astronaut cropped x1.67", "astronaut", frame, box)


def _smaller() -> Scene:
    """The whole portrait scaled to 480 px, off-centre to the left: a face of ~85 px further away."""
    frame, box = _place(_rgb(skimage.data.astronaut()), ASTRONAUT_FACE)
    shifted = np.full_like(frame, BACKGROUND)
    shifted[:, : WIDTH - 60] = frame[:, 60:]
    assert box is not None
    return Scene("astronaut smaller, shifted", "astronaut", shifted, (box[0] - 60, box[1], box[2], box[3]))


def _noisy(scene: Scene) -> Scene:
    rng = np.random.default_rng(8)
    noise = rng.normal(0.0, 8.0, scene.image.shape)
    image = np.clip(scene.image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return Scene("astronaut + sensor noise", scene.person, image, scene.face)


def _jpeg(scene: Scene, quality: int = 25) -> Scene:
    buffer = io.BytesIO()
    Image.fromarray(scene.image).save(buffer, format="JPEG", quality=quality)
    image = np.ascontiguousarray(np.asarray(Image.open(buffer).convert("RGB")))
    return Scene(f"astronaut jpeg q{quality}", scene.person, image, scene.face)


def astronaut_variants() -> list[Scene]:
    """The astronaut scene and transformed copies of it: the same person, as a camera might see her."""
    base = astronaut()
    return [
        base,
        _flip(base),
        _zoomed(),
        _smaller(),
        _scaled(base, 0.55, "astronaut darker x0.55"),
        _scaled(base, 1.35, "astronaut brighter x1.35"),
        _noisy(base),
        _jpeg(base),
    ]


def cameraman() -> Scene:
    """A different real person: the cameraman's upper body enlarged so his face is ~110 px."""
    image, face = _crop(_rgb(skimage.data.camera()), CAMERAMAN_FACE, 60, 0, 400, 300)
    frame, box = _place(image, face)
    return Scene("cameraman", "cameraman", frame, box)


def colour_bars() -> np.ndarray:
    """Seven vertical bars like GStreamer's `videotestsrc` SMPTE pattern, with its darker bottom band."""
    colours = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    bar = WIDTH // len(colours) + 1
    for i, colour in enumerate(colours):
        frame[: HEIGHT * 2 // 3, i * bar : (i + 1) * bar] = colour
    frame[HEIGHT * 3 // 4 :, :] = (16, 16, 16)
    frame[HEIGHT * 3 // 4 :, : WIDTH // 4] = (0, 33, 76)
    return frame


def noise(seed: int = 0) -> np.ndarray:
    """Uniform RGB noise: the worst case for a detector's false positives per pixel."""
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


_NEGATIVES: dict[str, Callable[[], np.ndarray]] = {
    "coffee": skimage.data.coffee,
    "cat (chelsea)": skimage.data.chelsea,
    "rocket": skimage.data.rocket,
    "coins": skimage.data.coins,
    "page": skimage.data.page,
    "hubble deep field": skimage.data.hubble_deep_field,
    "immunohistochemistry": skimage.data.immunohistochemistry,
}


def negatives() -> list[Scene]:
    """Scenes without any face."""
    scenes = [Scene(name, None, _place(_rgb(load()))[0], None) for name, load in _NEGATIVES.items()]
    scenes.append(Scene("colour bars", None, colour_bars(), None))
    scenes.append(Scene("noise", None, noise(), None))
    scenes.append(Scene("grey wall", None, np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8), None))
    return scenes


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0
