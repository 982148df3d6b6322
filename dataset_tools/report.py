"""``dataset-report``: one HTML page with PNG figures describing a dataset.

Per sequence: frame counts, drops and losses per stream, a range-Doppler and a range-azimuth
thumbnail of the middle frame with the labelled joints projected into the range-azimuth map
through the radar's pose (rig calibration), the RGB frame with keypoints when images are stored,
and a histogram of label confidences. The page opens with what the dataset contains (privacy).
Figures are drawn with Pillow (no plotting library needed).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from acquisition.geometry import Pose
from acquisition.radar.config import parse_radar_config
from dataset_tools.dataset import Sequence, open_dataset
from dataset_tools.dsp import angle_axis_deg, range_axis_m

JOINT_COLOUR = (255, 60, 60)
BONE_COLOUR = (255, 220, 0)


def _heat(img: NDArray[np.floating], size: tuple[int, int]) -> Image.Image:
    """A float map (finite values) as a colour image of ``size`` (w, h), origin at the bottom."""
    a = np.asarray(img, dtype=np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return Image.new("RGB", size, (40, 40, 40))
    lo, hi = np.percentile(a[finite], [5, 99.5])
    x = np.clip((np.where(finite, a, lo) - lo) / max(hi - lo, 1e-9), 0, 1)
    rgb = np.stack([x, np.clip(2 * x - 0.5, 0, 1), 1 - x * 0.8], axis=-1)
    im = Image.fromarray((rgb * 255).astype(np.uint8)[::-1])
    return im.resize(size, Image.Resampling.NEAREST)


def _histogram(
    values: NDArray[np.floating], title: str, size: tuple[int, int] = (320, 160)
) -> Image.Image:
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    v = values[np.isfinite(values)]
    d.text((4, 2), title, fill="black")
    if not v.size:
        d.text((4, 60), "no labels", fill="black")
        return im
    counts, _ = np.histogram(v, bins=20, range=(0.0, 1.0))
    top = max(int(counts.max()), 1)
    w = (size[0] - 20) / 20
    for i, c in enumerate(counts):
        h = (size[1] - 40) * c / top
        x0 = 10 + i * w
        d.rectangle([x0, size[1] - 20 - h, x0 + w - 2, size[1] - 20], fill=(70, 110, 200))
    d.text((4, size[1] - 16), "0", fill="black")
    d.text((size[0] - 16, size[1] - 16), "1", fill="black")
    d.text((size[0] // 2 - 30, 2 + 12), f"n={v.size}", fill="black")
    return im


def _draw_skeleton(
    im: Image.Image,
    xy: NDArray[np.floating],
    valid: NDArray[np.bool_],
    edges: list[tuple[int, int]],
) -> None:
    d = ImageDraw.Draw(im)
    for a, b in edges:
        if valid[a] and valid[b] and np.isfinite(xy[[a, b]]).all():
            d.line([tuple(xy[a]), tuple(xy[b])], fill=BONE_COLOUR, width=2)
    for j in range(xy.shape[0]):
        if valid[j] and np.isfinite(xy[j]).all():
            x, y = xy[j]
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=JOINT_COLOUR)


def _edges(schema: str) -> list[tuple[int, int]]:
    try:
        from labeling.skeletons import get_schema

        return list(get_schema(schema).edges)
    except (ImportError, KeyError):
        return []


def project_to_ra(
    joints_rig: NDArray[np.floating], radar_attrs: dict[str, Any], ra_shape: tuple[int, int]
) -> NDArray[np.float64]:
    """(J, 2) (azimuth bin, range bin) of rig-frame joints in a radar's range-azimuth map."""
    params = parse_radar_config(radar_attrs["cfg_text"]).params(radar_attrs.get("board"))
    pose_d = radar_attrs.get("pose") or {"xyz": [0, 0, 0], "rpy_deg": [0, 0, 0]}
    pose = Pose.from_xyz_rpy(tuple(pose_d["xyz"]), tuple(pose_d["rpy_deg"]))
    p = pose.rig_to_radar(np.asarray(joints_rig, dtype=np.float64))
    rng = np.linalg.norm(p, axis=-1)
    sin_az = p[:, 0] / np.maximum(rng, 1e-9)
    n_range, n_angle = ra_shape
    r_axis = range_axis_m(params)[:n_range]
    a_axis = np.sin(np.radians(angle_axis_deg(n_angle)))
    r_bin = np.interp(rng, r_axis, np.arange(r_axis.size))
    a_bin = np.interp(sin_az, a_axis, np.arange(n_angle))
    return np.stack([a_bin, r_bin], axis=-1)


def _sequence_figures(seq: Sequence, figdir: Path) -> dict[str, str]:
    figs: dict[str, str] = {}
    mid = seq.num_frames // 2
    preferred = [s for s in ("hupr14", "coco17", "sim20") if s in seq.label_schemas]
    schema: str | None = (preferred or seq.label_schemas or [None])[0]
    labels = seq.labels(schema) if schema else None
    for radar in seq.radars:
        reps = seq.representations(radar)
        ok = np.nonzero(seq.mask(f"radar/{radar}"))[0]
        frame = int(ok[np.argmin(np.abs(ok - mid))]) if ok.size else mid
        if "rd" in reps:
            rd = seq.read(radar, "rd", frame, frame + 1)[0]
            name = f"{seq.id}_{radar}_rd.png"
            _heat(rd.T, (192, 192)).save(figdir / name)
            figs[f"{radar} range-Doppler (frame {frame})"] = name
        if "ra" in reps:
            ra = seq.read(radar, "ra", frame, frame + 1)[0]
            size = (192, 192)
            im = _heat(ra, size)
            if labels is not None and radar in seq.attrs.get("radars", {}):
                k3 = labels["keypoints_3d"][frame]
                valid = labels["valid"][frame] & np.isfinite(k3).all(axis=-1)
                if valid.any():
                    bins = project_to_ra(np.nan_to_num(k3), seq.attrs["radars"][radar], ra.shape)
                    xy = np.stack(
                        [
                            (bins[:, 0] + 0.5) * size[0] / ra.shape[1],
                            size[1] - (bins[:, 1] + 0.5) * size[1] / ra.shape[0],
                        ],
                        axis=-1,
                    )
                    _draw_skeleton(im, xy, valid, _edges(str(schema)))
            name = f"{seq.id}_{radar}_ra.png"
            im.save(figdir / name)
            figs[f"{radar} range-azimuth + projected joints (frame {frame})"] = name
    for camera in seq.cameras:
        if not seq.dataset.storage.exists(f"{seq.path}/camera/{camera}/color"):
            continue
        have = np.nonzero(seq.mask(f"camera/{camera}"))[0]
        if not have.size:
            continue
        frame = int(have[np.argmin(np.abs(have - mid))])
        im = Image.fromarray(seq.read_images(camera, frame, frame + 1)[0])
        if labels is not None and labels.get("camera") in (camera, None):
            _draw_skeleton(
                im,
                labels["keypoints_2d"][frame, :, :2],
                labels["valid"][frame],
                _edges(str(schema)),
            )
        im.thumbnail((320, 240))
        name = f"{seq.id}_{camera}_rgb.png"
        im.save(figdir / name)
        figs[f"{camera} RGB + {schema} keypoints (frame {frame})"] = name
    if labels is not None:
        name = f"{seq.id}_confidence.png"
        _histogram(labels["keypoints_2d"][..., 2].ravel(), f"{schema} keypoint scores").save(
            figdir / name
        )
        figs[f"{schema} label confidence"] = name
    return figs


def write_report(dataset: str | Path, out: str | Path, *, max_sequences: int = 50) -> Path:
    """Write ``out/index.html`` and its PNG figures; returns the HTML path."""
    ds = open_dataset(dataset)
    out = Path(out)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    a = ds.attrs
    privacy = a.get("privacy", {})
    split_sizes = {k: {n: len(v) for n, v in g.items()} for k, g in ds.splits.items()}
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Dataset report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}figure{display:inline-block;"
        "margin:4px}figcaption{font-size:80%}</style>",
        f"<h1>Dataset {html.escape(str(dataset))}</h1>",
        f"<p>{html.escape(str(a.get('format')))} v{a.get('format_version')}, created "
        f"{a.get('created_utc')} by toolkit {html.escape(str(a.get('toolkit_version')))}; "
        f"{len(ds)} sequences.</p>",
        "<h2>What this dataset contains</h2><ul>",
        f"<li>RGB images: {'yes' if privacy.get('rgb', True) else 'no (left out)'}"
        f"{', faces blurred' if privacy.get('blur_faces') else ''}</li>",
        f"<li>Depth images: {'yes' if privacy.get('depth', True) else 'no (left out)'}</li>",
        f"<li>Subject ids: {html.escape(str(privacy.get('pseudonyms', 'as recorded')))}; "
        f"subjects {html.escape(str(a.get('subjects', [])))}</li>",
        f"<li>Radar representations: {html.escape(str(a.get('representations', {}).get('names')))}"
        f"</li><li>Label skeletons: {html.escape(str(sorted(a.get('skeletons', {}))))}</li>",
        f"<li>Splits: {html.escape(json.dumps(split_sizes))}</li>",
        "</ul>",
    ]
    dropped = a.get("provenance", {}).get("dropped", [])
    if dropped:
        parts.append("<h2>Takes left out</h2><ul>")
        parts += [
            f"<li>{html.escape(d['session'])}/{html.escape(d['take'])}: "
            f"{html.escape(d['reason'])}</li>"
            for d in dropped
        ]
        parts.append("</ul>")
    parts.append(
        "<h2>Per take</h2><table><tr><th>sequence</th><th>subject</th><th>action</th>"
        "<th>frames</th><th>radar usable / missing / lost data</th><th>camera frames / missing"
        "</th><th>notes</th></tr>"
    )
    for seq in list(ds)[:max_sequences]:
        st = seq.attrs.get("stats", {})
        radar_txt = "; ".join(
            f"{r}: {int(seq.mask(f'radar/{r}').sum())} / "
            f"{int((~seq.mask(f'radar/{r}/present')).sum())} / "
            f"{int((seq.mask(f'radar/{r}/present') & ~seq.mask(f'radar/{r}')).sum())}"
            for r in seq.radars
        )
        cam_txt = "; ".join(
            f"{c}: {int(seq.mask(f'camera/{c}').sum())} / {int((~seq.mask(f'camera/{c}')).sum())}"
            for c in seq.cameras
        )
        notes = "<br>".join(html.escape(n) for n in st.get("notes", []))
        parts.append(
            f"<tr><td>{html.escape(seq.id)}</td><td>{html.escape(str(seq.attrs.get('subject')))}"
            f"</td><td>{html.escape(str(seq.attrs.get('action')))}</td><td>{seq.num_frames}</td>"
            f"<td>{radar_txt}</td><td>{cam_txt}</td><td>{notes}</td></tr>"
        )
    parts.append("</table>")
    for seq in list(ds)[:max_sequences]:
        parts.append(f"<h3>{html.escape(seq.id)}</h3>")
        for caption, name in _sequence_figures(seq, figdir).items():
            parts.append(
                f"<figure><img src='figures/{html.escape(name)}'><figcaption>"
                f"{html.escape(caption)}</figcaption></figure>"
            )
    page = out / "index.html"
    page.write_text("\n".join(parts))
    return page
