"""The OCR engine: RapidOCR's PP-OCRv4 detection and recognition models on onnxruntime (CPU).

The models ship inside the ``rapidocr-onnxruntime`` wheel: nothing is downloaded. The engine's
detector and recogniser are used directly (not RapidOCR's all-in-one call) so that:

* detection runs on an image we scale ourselves (text height decides the speed/accuracy trade);
* recognition returns, besides the best reading and its score, the other characters the model
  gave weight to at each position (CTC output), i.e. the engine's own alternative readings;
* one thread per process (``XXGK_OCR_THREADS``): the pipeline parallelises over documents.

``engine_version()`` names the package version and model files; the OCR cache key includes it.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

_NUMBER = re.compile(r"[0-9][0-9.,]*")
ALTERNATIVE_MIN = 0.02  # probability from which another character at a position counts as a candidate
DIGIT_ALTERNATIVE_MIN = 0.001  # for a digit, the probability from which another digit does
MAX_CHAR_ALTERNATIVES = 3


@dataclass
class Reading:
    """One recognised text run: best text, mean and lowest character probability, per-character candidates."""

    text: str
    score: float
    lowest: float
    candidates: list[tuple[tuple[str, float], ...]]  # per character of ``text``: other characters with their probability

    def alternatives(self, limit: int = 8) -> tuple[str, ...]:
        """Other texts: one character replaced by one of its candidates (most probable first).

        A reading that is a number only gets numeric alternatives (a letter O for a 0 is not a value).
        """
        numeric = is_number(self.text)
        options = []
        for k, cands in enumerate(self.candidates):
            for ch, p in cands:
                text = self.text[:k] + ch + self.text[k + 1 :]
                if not numeric or is_number(text):
                    options.append((p, text))
        options.sort(key=lambda o: -o[0])
        out: list[str] = []
        for _, text in options:
            if text != self.text and text not in out:
                out.append(text)
            if len(out) >= limit:
                break
        return tuple(out)


def is_number(text: str) -> bool:
    """Digits, possibly with separators (a reading that is a value)."""
    return _NUMBER.fullmatch(text) is not None


@lru_cache(maxsize=1)
def engine_version() -> str:
    """Package version plus the model files' names and sizes (they change only with the wheel)."""
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    files = ",".join(f"{p.name}:{p.stat().st_size}" for p in sorted(models.glob("*.onnx")))
    return f"rapidocr-onnxruntime {metadata.version('rapidocr-onnxruntime')} ({hashlib.sha256(files.encode()).hexdigest()[:8]})"


class Engine:
    """Text detection and recognition with the models of the installed RapidOCR wheel."""

    def __init__(self, threads: int | None = None):
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
        from rapidocr_onnxruntime.utils import read_yaml

        threads = threads or int(os.environ.get("XXGK_OCR_THREADS", 1))
        root = Path(rapidocr_onnxruntime.__file__).parent
        config = read_yaml(str(root / "config.yaml"))
        for part in ("Det", "Rec"):
            config[part]["model_path"] = str(root / config[part]["model_path"])
            config[part]["intra_op_num_threads"] = threads
            config[part]["inter_op_num_threads"] = 1
        config["Det"]["limit_type"] = "min"
        config["Det"]["limit_side_len"] = 32  # we scale the image ourselves
        self.detector = TextDetector(config["Det"])
        self.recognizer = TextRecognizer(config["Rec"])
        self.charset = self.recognizer.postprocess_op.character
        self._digits = [j for j, ch in enumerate(self.charset) if len(ch) == 1 and ch in "0123456789"]
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Quadrilaterals (4x2, pixel coordinates of ``image``) around the text lines of a BGR image."""
        with self._lock:
            boxes, _ = self.detector(image)
        return [] if boxes is None else [np.asarray(b, dtype=np.float32) for b in boxes]

    def recognize(self, crops: list[np.ndarray], batch: int = 8) -> list[Reading]:
        """Readings of single-line BGR crops, in order."""
        rec = self.recognizer
        order = np.argsort([c.shape[1] / max(c.shape[0], 1) for c in crops])
        out: list[Reading | None] = [None] * len(crops)
        _, height, width = rec.rec_image_shape
        for start in range(0, len(crops), batch):
            idx = order[start : start + batch]
            # widths in steps of half the model's width: few distinct shapes, so onnxruntime reuses its plans
            need = max([width / height] + [crops[i].shape[1] / max(crops[i].shape[0], 1) for i in idx]) * height
            ratio = (np.ceil(need / (width / 2)) * (width / 2)) / height
            tensor = np.concatenate([rec.resize_norm_img(crops[i], ratio)[np.newaxis, :] for i in idx]).astype(np.float32)
            with self._lock:
                probs = rec.session(tensor)[0]
            for i, p in zip(idx, probs):
                out[i] = self._decode(p)
        return out  # type: ignore[return-value]

    def _decode(self, probs: np.ndarray) -> Reading:
        """Greedy CTC decoding of one (time x classes) probability matrix, with per-character candidates."""
        best = probs.argmax(axis=1)
        text: list[str] = []
        scores: list[float] = []
        cands: list[tuple[tuple[str, float], ...]] = []
        t = 0
        n = len(best)
        while t < n:
            k = best[t]
            end = t + 1
            while end < n and best[end] == k:
                end += 1
            if k != 0:
                span = probs[t:end]
                peak = span.max(axis=0)
                text.append(self.charset[k])
                scores.append(float(peak[k]))
                others = np.argsort(peak)[::-1][: MAX_CHAR_ALTERNATIVES + 2]
                found = [(self.charset[j], float(peak[j])) for j in others
                         if j not in (0, k) and peak[j] >= ALTERNATIVE_MIN and j < len(self.charset)][:MAX_CHAR_ALTERNATIVES]
                if self.charset[k].isdigit():  # for a digit, the next most likely digits, however unlikely
                    digits = sorted(((float(peak[j]), self.charset[j]) for j in self._digits if j != k), reverse=True)
                    found += [(ch, p) for p, ch in digits[:2] if p >= DIGIT_ALTERNATIVE_MIN and all(ch != f[0] for f in found)]
                cands.append(tuple(found))
            t = end
        if not text:
            return Reading("", 0.0, 0.0, [])
        return Reading("".join(text), float(np.mean(scores)), float(min(scores)), cands)


_ENGINE: Engine | None = None


def engine() -> Engine:
    """The process-wide engine (models load once, ~0.5 s)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine()
    return _ENGINE
