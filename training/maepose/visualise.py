"""Masked-reconstruction figure of a stage-1 model, written as PNG (pillow).

Examples::

    python -m training.maepose.visualise --checkpoint runs/mae_pre/checkpoints/best.pt \
        --dataset data/lab.zarr --out recon.png
    python -m training.maepose.visualise --checkpoint best.pt --dataset data/lab.zarr \
        --sequence S02_squat --start 40 --frames 6 --out recon.png

One row per shown frame (and modality), three columns: the input frame, the input with the
masked patches blanked (dark red), and the reconstruction (visible patches from the input,
masked ones predicted). Frames use a perceptual blue-yellow colour ramp over [0, 1].
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from training.data.protocols import DatasetSource

MASK_RGB = (110, 0, 0)
_RAMP = np.array(
    [[13, 8, 135], [84, 2, 163], [139, 10, 165], [185, 50, 137], [219, 92, 104], [244, 136, 73],
     [254, 188, 43], [240, 249, 33]],
    dtype=np.float64,
)  # fmt: skip


def colourise(frame: NDArray[np.floating]) -> NDArray[np.uint8]:
    """(H, W) values in [0, 1] -> (H, W, 3) RGB."""
    x = np.clip(np.nan_to_num(np.asarray(frame, float)), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, len(_RAMP) - 1)
    t = (x - lo)[..., None]
    rgb = _RAMP[lo] * (1 - t) + _RAMP[hi] * t
    out: NDArray[np.uint8] = rgb.round().astype(np.uint8)
    return out


def reconstruction_figure(
    clip: NDArray[np.floating],
    mask: NDArray[np.bool_],
    reconstruction: NDArray[np.floating],
    *,
    grid: Sequence[int],
    tubelet: int,
    patch: int,
    frames: Sequence[int] | None = None,
    modality_names: Sequence[str] = ("RD", "RA"),
    cell: int = 4,
) -> Image.Image:
    """The figure (module docstring) of radar 0.

    Args:
        clip, reconstruction: (R, M, T, H, W) in [0, 1].
        mask: (M, N) True = masked, N = T' Gh Gw tokens in (t, h, w) order.
        grid: (T', Gh, Gw).
        frames: frame indices shown (default: up to 5 evenly spaced).
        cell: pixels per map cell (nearest-neighbour upscaling).
    """
    _, m, t, h, w = clip.shape
    gt, gh, gw = grid
    if frames is None:
        frames = sorted({int(f) for f in np.linspace(0, t - 1, min(5, t))})
    pixel_mask = (
        np.asarray(mask, bool)
        .reshape(m, gt, gh, gw)
        .repeat(tubelet, axis=1)
        .repeat(patch, axis=2)
        .repeat(patch, axis=3)
    )  # (M, T, H, W)
    tile_w, tile_h, pad, header = w * cell, h * cell, 6, 18
    rows = [(mod, f) for mod in range(m) for f in frames]
    image = Image.new(
        "RGB", (3 * tile_w + 4 * pad + 70, len(rows) * (tile_h + pad) + pad + header), "white"
    )
    draw = ImageDraw.Draw(image)
    for c, title in enumerate(("input", "masked input", "reconstruction")):
        draw.text((70 + pad + c * (tile_w + pad), 3), title, fill="black")
    for r, (mod, f) in enumerate(rows):
        top = header + pad + r * (tile_h + pad)
        name = modality_names[mod] if mod < len(modality_names) else f"m{mod}"
        draw.text((4, top + tile_h // 2 - 6), f"{name} t={f}", fill="black")
        src = colourise(clip[0, mod, f])
        masked = src.copy()
        masked[pixel_mask[mod, f]] = MASK_RGB
        rec = colourise(reconstruction[0, mod, f])
        for c, tile in enumerate((src, masked, rec)):
            img = Image.fromarray(tile).resize((tile_w, tile_h), Image.Resampling.NEAREST)
            image.paste(img, (70 + pad + c * (tile_w + pad), top))
    return image


def save_reconstruction_png(
    checkpoint: str | Path,
    source: DatasetSource,
    out: str | Path,
    *,
    sequence: str | None = None,
    start: int = 0,
    frames: int = 5,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Run a stage-1 checkpoint on one clip (``sequence`` from frame ``start``, default the
    first clip of the checkpoint fold's val part, else train) with a seeded mask and write the
    figure; returns ``out``."""
    import torch

    from training.maepose.clips import RadarClipDataset
    from training.maepose.trainer import PRETRAIN
    from training.models.maepose import MaeposePretrain, sample_mask
    from training.trainer import load_trained

    trained = load_trained(checkpoint, device=device)
    model = trained.model
    if not isinstance(model, MaeposePretrain):
        raise ValueError(f"{checkpoint} is not a {PRETRAIN} checkpoint")
    cfg = trained.cfg
    seqs = [sequence] if sequence else list(trained.fold["val"] or trained.fold["train"])
    clips = RadarClipDataset(source, seqs, cfg.data, model.params, train=False)
    index = next((i for i, w in enumerate(clips.windows) if w.start >= start), None)
    if index is None:
        raise ValueError(f"no complete clip in {seqs} from frame {start}")
    radar = clips[index]["radar"][None].to(trained.device)
    gen = torch.Generator().manual_seed(seed)
    mask = sample_mask(
        1,
        radar.shape[2],
        model.grid,
        model.params.mask_ratio,
        mode=model.params.masking,
        generator=gen,
        device=trained.device,
    )
    with torch.no_grad():
        outputs = model(radar, mask)
        recon = model.reconstruction(outputs, radar)
    shown = sorted(
        {int(f) for f in np.linspace(0, radar.shape[3] - 1, min(frames, radar.shape[3]))}
    )
    names = [r.upper() for r in clips.representations]
    figure = reconstruction_figure(
        radar[0].cpu().numpy(),
        mask[0].cpu().numpy(),
        recon[0].clamp(0, 1).cpu().numpy(),
        grid=model.grid,
        tubelet=model.params.tubelet,
        patch=model.params.patch,
        frames=shown,
        modality_names=names,
        cell=max(1, 256 // max(radar.shape[-1], radar.shape[-2])),
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.maepose.visualise",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", default="maepose_reconstruction.png")
    p.add_argument("--sequence")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="mask seed")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    from training.data.source import open_training_dataset

    path = save_reconstruction_png(
        args.checkpoint,
        open_training_dataset(args.dataset),
        args.out,
        sequence=args.sequence,
        start=args.start,
        frames=args.frames,
        seed=args.seed,
        device=args.device,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
