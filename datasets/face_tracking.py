"""Face-tracking sequences with exact ground truth and no hand labels: real faces composited
into real video with real-looking motion, written as OTB sequences.

A sequence takes one identity (a held-out ORL person's ten photographs, or a face cut from
the Megamind close-up) and one real clip (consecutive colour frames of a sequence in the data
folder). Per frame the face's *head ellipse* is pasted, soft-edged, with a similarity transform
that follows a smooth random walk:

* centre: a damped random walk of the velocity (``v_t = 0.9 v_(t-1) + noise``, the noise a
  fraction of the head height per frame), reflected at the frame's margins;
* size: the head height ``h_t = h0 exp(l_t)`` with ``l_t`` an Ornstein-Uhlenbeck process
  (about +-20 %);
* rotation: an Ornstein-Uhlenbeck process in degrees, clipped at +-``max_rotation_deg``;
* pose: every 20-50 frames the face cross-fades (8 frames) into another photograph of the
  same person (ORL's ten photographs turn and tilt the head and change the expression);
* illumination: a slowly varying gain and offset on the face (a shadow or a lamp) and on
  the whole frame (camera exposure), and sensor noise; grey ORL faces get a skin tint.

The ground-truth box (``x, y, w, h`` in pixels) is the axis-aligned bounding box of the pasted
ellipse, what an annotator would draw around the visible face (forehead to chin, cheek to
cheek; for ORL a 60x84 px ellipse of the 92x112 photograph). Everything is drawn from one
seed, so a sequence is the same on every machine with the same data.

Base layer: numpy and OpenCV only.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from attentrack.datasets.orl import load_orl, split_people
from attentrack.datasets.otb import write_otb
from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

#: the head ellipse of every ORL photograph: centre ``x, y`` and semi-axes ``a, b`` in pixels of
#: the 92x112 image (forehead to chin, cheek to cheek; drawn over people s31..s40 to check)
ORL_HEAD_ELLIPSE = (46.0, 62.0, 30.0, 42.0)

#: faces of the Megamind close-up (``video/Megamind.avi``): ``name: (frame index, x, y, w, h)``,
#: each box drawn once by hand around the face (forehead to chin) of that frame
MEGAMIND_FACES = {
    "megamind-woman": (60, 150, 180, 165, 200),
    "megamind-man": (130, 405, 135, 165, 220),
    "megamind-closeup": (260, 295, 50, 250, 390),
}

#: background clips: ``name: path under the data folder``; the ``test`` ones were never seen by
#: the face model's training (:mod:`attentrack.generative.face.scenes` uses the same split)
BACKGROUND_CLIPS = {
    "test": {"TUD-Stadtmitte": "mot15/TUD-Stadtmitte/TUD-Stadtmitte.mp4", "Crossing": "sot/Crossing/img",
             "bag": "sot/bag"},
    "train": {"tree": "video/tree.avi", "TUD-Campus": "mot15/TUD-Campus/TUD-Campus.mp4", "kitti": "kitti"},
}


@dataclass
class FacePhoto:
    """One photograph of a face.

    Attributes:
        image: ``(H, W, 3)`` uint8 BGR.
        ellipse: ``(cx, cy, a, b)`` the head ellipse in pixels of ``image`` (``a`` across, ``b`` down).
    """

    image: np.ndarray
    ellipse: tuple[float, float, float, float]


@dataclass
class Identity:
    """A person: a name and their photographs (poses), all of the same face."""

    name: str
    photos: list[FacePhoto]


@dataclass
class MotionSettings:
    """The random walk of :func:`make_sequence`.

    Attributes:
        frames: sequence length.
        height_range: initial head height in pixels, drawn log-uniformly in this range.
        speed: standard deviation of the velocity's per-frame change, in head heights per frame.
        scale_sd: stationary standard deviation of the log head height.
        max_rotation_deg: the rotation's bound in degrees (its stationary sd is half of it).
        pose_every: ``(lo, hi)`` frames between two changes of photograph (0: never change).
        light_sd: stationary standard deviation of the face's and the frame's gain.
        noise: sensor noise standard deviation in grey levels.
    """

    frames: int = 150
    height_range: tuple[float, float] = (36.0, 72.0)
    speed: float = 0.02
    scale_sd: float = 0.12
    max_rotation_deg: float = 20.0
    pose_every: tuple[int, int] = (20, 50)
    light_sd: float = 0.15
    noise: float = 2.0


#: Background frames are shrunk to at most this many pixels wide unless a scene says otherwise.
FRAME_WIDTH = 640

#: Named settings of the generated sequences: ``(motion, frame_width)``. ``moving``: faces 36-72 px
#: high wandering over frames up to 640 px wide; ``still``: a face 38-46 px high in frames 128 px
#: wide that mostly stays where it is (a fifth of the speed, half the scale change), as a webcam
#: or a distant camera sees one, turning its head as often.
SCENES = {
    "moving": (MotionSettings(), FRAME_WIDTH),
    "still": (MotionSettings(height_range=(38.0, 46.0), speed=0.004, scale_sd=0.06), 128),
}


def read_clip(path: Path, limit: int | None = None, every: int = 1, grey: bool = False) -> list[np.ndarray]:
    """Frames 0, ``every``, 2 ``every`` ... (at most ``limit``) of a video file or an image folder
    (its .jpg/.jpeg/.png/.bmp files in name order): ``(H, W, 3)`` uint8 BGR, or ``(H, W)`` uint8
    grey with ``grey``. A missing path gives no frames."""
    frames: list[np.ndarray] = []
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
        for f in files[::every]:
            if limit is not None and len(frames) >= limit:
                break
            im = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
            if im is not None:
                frames.append(im)
    elif path.is_file():
        cap, i = cv2.VideoCapture(str(path)), 0
        while limit is None or len(frames) < limit:
            ok, im = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) if grey else im)
            i += 1
        cap.release()
    return frames


def load_clips(root: str | Path, split: str = "test", limit: int = 400,
               width: int = FRAME_WIDTH) -> dict[str, list[np.ndarray]]:
    """The background clips of a split (``test`` or ``train``): ``{name: [(H, W, 3) uint8 BGR]}``,
    frames at most ``width`` pixels wide.

    Raises:
        InputError: an unknown split, or none of its clips under ``root``.
    """
    if split not in BACKGROUND_CLIPS:
        raise InputError(f"unknown background split {split!r} (test or train)")
    out = {}
    for name, rel in BACKGROUND_CLIPS[split].items():
        frames = read_clip(Path(root) / rel, limit)
        if frames:
            out[name] = [fit_width(f, width) for f in frames]
    if not out:
        raise InputError(f"no background clips of split {split!r} under {root}")
    return out


def fit_width(im: np.ndarray, width: int) -> np.ndarray:
    """``im`` shrunk (area interpolation) to at most ``width`` pixels wide, aspect kept."""
    if im.shape[1] <= width:
        return im
    return cv2.resize(im, (width, round(im.shape[0] * width / im.shape[1])), interpolation=cv2.INTER_AREA)


def load_identities(root: str | Path, held_out: int = 10, megamind: bool = True) -> list[Identity]:
    """Held-out ORL people (``s31..s40`` for 10; never seen by the face model's training), then
    the Megamind faces when ``megamind`` and the video is present.

    Raises:
        InputError: no ORL faces under ``root/faces/orl``.
    """
    root = Path(root)
    faces = load_orl(root / "faces" / "orl")
    _, people = split_people(held_out, int(faces.person.max()))
    out = []
    for p in people:
        sub = faces.subset([p])
        photos = [FacePhoto(cv2.cvtColor(im, cv2.COLOR_GRAY2BGR), ORL_HEAD_ELLIPSE) for im in sub.images]
        out.append(Identity(f"orl-s{p}", photos))
    video = root / "video" / "Megamind.avi"
    if megamind and video.is_file():
        wanted = {f: name for name, (f, *_) in MEGAMIND_FACES.items()}
        cap, i = cv2.VideoCapture(str(video)), 0
        grabbed = {}
        while len(grabbed) < len(wanted):
            ok, im = cap.read()
            if not ok:
                break
            if i in wanted:
                grabbed[wanted[i]] = im
            i += 1
        cap.release()
        for name, (_, x, y, w, h) in MEGAMIND_FACES.items():
            if name in grabbed:
                margin = 0.25  # keep some surround so the warp's border is not the face's edge
                x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
                crop = grabbed[name][y0 : y + h + int(margin * h), x0 : x + w + int(margin * w)].copy()
                out.append(Identity(name, [FacePhoto(crop, (x - x0 + w / 2, y - y0 + h / 2, w / 2, h / 2))]))
    return out


def ellipse_box(cx: float, cy: float, a: float, b: float, theta: float) -> np.ndarray:
    """``(4,)`` ``x, y, w, h``: the bounding box of an ellipse (centre in pixels, semi-axes ``a`` across
    and ``b`` down in pixels) turned by ``theta`` radians."""
    c, s = math.cos(theta), math.sin(theta)
    hw, hh = math.sqrt((a * c) ** 2 + (b * s) ** 2), math.sqrt((a * s) ** 2 + (b * c) ** 2)
    return np.array([cx - hw, cy - hh, 2 * hw, 2 * hh])


def _ou(rng: np.random.Generator, n: int, sd: float, keep: float = 0.95) -> np.ndarray:
    """A stationary Ornstein-Uhlenbeck (AR(1)) path of ``n`` values, standard deviation ``sd``."""
    out = np.empty(n)
    x = rng.normal(0.0, sd)
    step = sd * math.sqrt(1 - keep**2)
    for t in range(n):
        out[t] = x
        x = keep * x + rng.normal(0.0, step)
    return out


def _tint(rng: np.random.Generator) -> np.ndarray:
    """A skin tint for a grey face: BGR multipliers (red 1, green and blue lower)."""
    return np.array([rng.uniform(0.62, 0.82), rng.uniform(0.78, 0.92), 1.0])


def _paste(frame: np.ndarray, photo: FacePhoto, cx: float, cy: float, k: float, theta: float,
           gain: float, offset: float, tint: np.ndarray | None, alpha_out: np.ndarray | None = None) -> np.ndarray:
    """Paste ``photo``'s head ellipse into a float ``frame`` ``(H, W, 3)``: scaled by ``k``, turned by
    ``theta``, its centre at ``(cx, cy)`` pixels; returns the weight map ``(H, W)`` used."""
    h, w = frame.shape[:2]
    ex, ey, a, b = photo.ellipse
    c, s = math.cos(theta) * k, math.sin(theta) * k
    # frame = centre + k R (source - ellipse centre), pixel centres at integer + 0.5 on both sides
    m = np.array([[c, -s, cx - 0.5 - (c * (ex - 0.5) - s * (ey - 0.5))],
                  [s, c, cy - 0.5 - (s * (ex - 0.5) + c * (ey - 0.5))]])
    face = photo.image.astype(np.float32)
    if tint is not None:
        face = face * tint[None, None, :].astype(np.float32)
    face = face * gain + offset
    warped = cv2.warpAffine(face, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros(photo.image.shape[:2], np.float32)
    # drawn at quarter-pixel precision (shift 2); pixel index i is the continuous coordinate i + 0.5
    cv2.ellipse(mask, (round((ex - 0.5) * 4), round((ey - 0.5) * 4)), (round(a * 4), round(b * 4)), 0, 0, 360, 1.0,
                -1, cv2.LINE_AA, 2)
    feather = max(0.5, 0.06 * b)
    mask = cv2.GaussianBlur(mask, (0, 0), feather)
    alpha = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if alpha_out is not None:
        alpha_out[...] = alpha
    return frame * (1 - alpha[..., None]) + warped * alpha[..., None]


@dataclass
class FaceSequence:
    """A generated sequence: ``frames`` ``(T, H, W, 3)`` uint8 BGR and ``boxes`` ``(T, 4)`` ``x, y, w, h``
    pixels, with what it was made of."""

    frames: np.ndarray
    boxes: np.ndarray
    identity: str
    background: str
    seed: int


def make_sequence(identity: Identity, clip: list[np.ndarray], seed: int, motion: MotionSettings | None = None,
                  background: str = "") -> FaceSequence:
    """Composite ``identity`` into the consecutive frames of ``clip`` (played forward and back when
    the sequence is longer) with the random walk of ``motion``, all from ``seed``.

    Raises:
        InputError: an empty clip, no photographs, or a frame too small for the face.
    """
    mo = motion or MotionSettings()
    if not clip or not identity.photos:
        raise InputError("a face sequence needs a background clip and at least one photograph")
    rng = np.random.default_rng(seed)
    n = mo.frames
    fh, fw = clip[0].shape[:2]
    h0 = math.exp(rng.uniform(math.log(mo.height_range[0]), math.log(mo.height_range[1])))
    if 1.6 * h0 * math.exp(2 * mo.scale_sd) > min(fw, fh):
        raise InputError(f"background frames of {fw}x{fh} px are too small for faces {h0:.0f} px high")
    log_scale = np.clip(_ou(rng, n, mo.scale_sd, 0.97), -2 * mo.scale_sd, 2 * mo.scale_sd)
    rot_bound = math.radians(mo.max_rotation_deg)
    theta = np.clip(_ou(rng, n, 0.5 * rot_bound, 0.95), -rot_bound, rot_bound)
    face_gain = 1 + np.clip(_ou(rng, n, mo.light_sd, 0.97), -2 * mo.light_sd, 2 * mo.light_sd)
    frame_gain = 1 + np.clip(_ou(rng, n, 0.5 * mo.light_sd, 0.98), -mo.light_sd, mo.light_sd)
    offset = _ou(rng, n, 10.0, 0.97)
    tint = _tint(rng) if identity.name.startswith("orl-") else None
    start = int(rng.integers(len(clip)))
    order = list(range(len(clip))) + list(range(len(clip) - 2, 0, -1)) or [0]
    # poses: photograph index per frame and the cross-fade weight of the next one
    photos = identity.photos
    pose = np.zeros(n, int)
    blend = np.zeros(n)
    nxt = np.zeros(n, int)
    cur, t = int(rng.integers(len(photos))), 0
    while t < n:
        stay = int(rng.integers(mo.pose_every[0], mo.pose_every[1] + 1)) if mo.pose_every[1] > 0 and len(photos) > 1 else n
        new = cur if len(photos) == 1 else int(rng.choice([i for i in range(len(photos)) if i != cur]))
        for k in range(stay):
            if t + k >= n:
                break
            pose[t + k], nxt[t + k] = cur, new
            blend[t + k] = max(0.0, (k - (stay - 8)) / 8.0) if stay < n else 0.0
        t += stay
        cur = new
    # centre: damped velocity, reflected at margins that keep the whole head inside the frame
    ex, ey, a, b = photos[0].ellipse
    boxes = np.empty((n, 4))
    frames = np.empty((n, fh, fw, 3), np.uint8)
    pos = np.empty((n, 2))
    vel = np.zeros(2)
    half_max = 0.5 * h0 * math.exp(2 * mo.scale_sd) * 1.05
    p = np.array([rng.uniform(half_max, fw - half_max), rng.uniform(half_max, fh - half_max)])
    for i in range(n):
        pos[i] = p
        vel = 0.9 * vel + rng.normal(0.0, mo.speed * h0, 2)
        p = p + vel
        for d, size in ((0, fw), (1, fh)):
            if p[d] < half_max:
                p[d], vel[d] = 2 * half_max - p[d], abs(vel[d])
            elif p[d] > size - half_max:
                p[d], vel[d] = 2 * (size - half_max) - p[d], -abs(vel[d])
    alpha = np.empty((fh, fw), np.float32)
    for i in range(n):
        bg = clip[order[(start + i) % len(order)]].astype(np.float32)
        if bg.shape[:2] != (fh, fw):
            bg = cv2.resize(bg, (fw, fh), interpolation=cv2.INTER_AREA)
        photo = photos[pose[i]]
        k = h0 * math.exp(log_scale[i]) / (2 * photo.ellipse[3])
        img = _paste(bg, photo, pos[i, 0], pos[i, 1], k, theta[i], face_gain[i], offset[i], tint, alpha)
        if blend[i] > 0:
            other = photos[nxt[i]]
            k2 = h0 * math.exp(log_scale[i]) / (2 * other.ellipse[3])
            img2 = _paste(bg, other, pos[i, 0], pos[i, 1], k2, theta[i], face_gain[i], offset[i], tint)
            img = (1 - blend[i]) * img + blend[i] * img2
        img = img * frame_gain[i] + rng.normal(0.0, mo.noise, img.shape).astype(np.float32)
        frames[i] = np.clip(img, 0, 255).astype(np.uint8)
        ks = h0 * math.exp(log_scale[i]) / (2 * photo.ellipse[3])
        _, _, a, b = photo.ellipse
        boxes[i] = ellipse_box(pos[i, 0], pos[i, 1], a * ks, b * ks, theta[i])
    return FaceSequence(frames, boxes, identity.name, background, seed)


def write_sequence(seq: FaceSequence, folder: str | Path, quality: int = 90) -> Path:
    """Write an OTB sequence: ``folder/img/0001.jpg ...`` and ``folder/groundtruth_rect.txt``, plus
    ``folder/meta.json`` (identity, background, seed). The ground truth is written last, so a
    folder with it is complete."""
    folder = Path(folder)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(seq.frames, 1):
        cv2.imwrite(str(folder / "img" / f"{i:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    with atomic_write(folder / "meta.json", "w") as fh:
        json.dump({"identity": seq.identity, "background": seq.background, "seed": seq.seed,
                   "frames": len(seq.frames)}, fh)
    write_otb(folder / "groundtruth_rect.txt", seq.boxes)
    return folder


@dataclass
class GeneratedSet:
    """What :func:`generate_face_tracking` wrote: one folder per sequence and the settings."""

    folders: list[Path]
    settings: dict


def _interleave(identities: list[Identity]) -> list[Identity]:
    """ORL people and other faces taking turns (ORL first), the rest of the longer list after."""
    orl = [i for i in identities if i.name.startswith("orl-")]
    other = [i for i in identities if not i.name.startswith("orl-")]
    out = []
    for k in range(max(len(orl), len(other))):
        out += orl[k : k + 1] + other[k : k + 1]
    return out


def generate_face_tracking(root: str | Path, out: str | Path, sequences: int = 6, seed: int = 0,
                           motion: MotionSettings | None = None, split: str = "test", megamind: bool = True,
                           held_out: int = 10, frame_width: int = FRAME_WIDTH) -> GeneratedSet:
    """Write ``sequences`` OTB sequences into ``out`` (``face-000``, ``face-001``, ...): sequence ``i``
    takes identity ``i`` modulo the identities (held-out ORL people and Megamind faces taking
    turns while both last: ``s31``, Megamind woman, ``s32``, Megamind man, ...) and clip ``i``
    modulo the clips of ``split`` (shrunk to at most ``frame_width`` pixels wide), with seed
    ``seed * 1000 + i``. Folders already complete with the same settings (``out/settings.json``)
    are kept.

    Raises:
        InputError: missing data, or ``out`` holding sequences made with other settings.
    """
    mo = motion or MotionSettings()
    out = Path(out)
    identities = _interleave(load_identities(root, held_out, megamind))
    clips = load_clips(root, split, limit=max(mo.frames, 60), width=frame_width)
    names = sorted(clips)
    # frame_width is recorded only when it is not the default, so folders written before it existed still match
    settings = {"sequences": sequences, "seed": seed, "split": split, "megamind": megamind, "held_out": held_out,
                "motion": asdict(mo), **({"frame_width": frame_width} if frame_width != FRAME_WIDTH else {}),
                "made_of": [[identities[i % len(identities)].name, names[i % len(names)]] for i in range(sequences)]}
    settings = json.loads(json.dumps(settings))
    marker = out / "settings.json"
    if marker.is_file():
        old = json.loads(marker.read_text())
        if old != settings:
            raise InputError(f"{out} holds face sequences generated with other settings; give another folder")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(marker, "w") as fh:
        json.dump(settings, fh, indent=1)
    folders = []
    for i in range(sequences):
        folder = out / f"face-{i:03d}"
        folders.append(folder)
        if (folder / "groundtruth_rect.txt").is_file():
            continue
        ident = identities[i % len(identities)]
        clip_name = names[i % len(names)]
        seq = make_sequence(ident, clips[clip_name], seed * 1000 + i, mo, clip_name)
        write_sequence(seq, folder)
    return GeneratedSet(folders, settings)
