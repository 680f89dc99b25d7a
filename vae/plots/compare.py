"""Figures of the Compare page: scores as bars, training curves on shared axes, the same test images
reconstructed by every model. Pure functions from data to plotly figures (no streamlit).

Model i has the same colour in every figure (model_color); the palette differs from the class
colours of the latent maps, so a model is never mistaken for a digit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from vae.plots.explore import TEMPLATE, _as_hwc, _png_uri

MODEL_COLORS: tuple[str, ...] = tuple(qualitative.Dark2)
BAR_SCORES = (("Test ELBO", "nats"), ("log p(x) ≥ (IW)", "nats"), ("KL", "nats"), ("Active units", "dims"))
_CURVES = (("elbo", "ELBO"), ("reconstruction", "Reconstruction log p(x|z)"), ("kl", "KL(q(z|x) || p(z))"))


def model_color(i: int) -> str:
    return MODEL_COLORS[int(i) % len(MODEL_COLORS)]


def _bar_value(value):
    """A table cell -> a number for a bar: "3/8" active units -> 3, missing -> None."""
    if isinstance(value, str):
        return float(value.split("/")[0])
    return None if value is None else float(value)


def score_bars(rows) -> go.Figure:
    """Table rows (comparison.score_row) -> one small chart per score. Log-likelihoods (negative,
    higher is better) are dots on a range fitted to the values, so a few nats between models stay
    visible and no bar hangs from zero; KL and active units are bars from zero."""
    titles = [f"{t} ↑" if unit == "nats" and t != "KL" else t for t, unit in BAR_SCORES]
    fig = make_subplots(rows=1, cols=len(BAR_SCORES), subplot_titles=titles, horizontal_spacing=0.07)
    names = [r["model"] for r in rows]
    colors = [model_color(i) for i in range(len(rows))]
    for col, (title, unit) in enumerate(BAR_SCORES, start=1):
        values = [_bar_value(r.get(title)) for r in rows]
        text = [("" if v is None else f"{v:.1f}" if unit == "nats" else f"{v:.0f}") for v in values]
        hover = f"%{{x}}: %{{y:.2f}} {unit}<extra>{title}</extra>"
        known = [v for v in values if v is not None]
        if unit == "nats" and title != "KL":
            fig.add_trace(
                go.Scatter(
                    x=names,
                    y=values,
                    mode="markers+text",
                    text=text,
                    textposition="top center",
                    marker=dict(size=16, color=colors),
                    showlegend=False,
                    hovertemplate=hover,
                    cliponaxis=False,
                ),
                row=1,
                col=col,
            )
            if known:
                lo, hi = min(known), max(known)
                pad = max((hi - lo) * 0.3, 1.0)
                fig.update_yaxes(range=[lo - pad, hi + pad], row=1, col=col)
        else:
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=values,
                    marker_color=colors,
                    text=text,
                    textposition="outside",
                    showlegend=False,
                    cliponaxis=False,
                    hovertemplate=hover,
                ),
                row=1,
                col=col,
            )
            fig.update_yaxes(range=[0, (max(known) if known else 1) * 1.25 + 0.5], row=1, col=col)
        fig.update_yaxes(title_text=unit, row=1, col=col, title_standoff=2)
    fig.update_layout(template=TEMPLATE, height=320, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def training_curves(histories: dict) -> go.Figure:
    """{model name: per-epoch history dicts} -> ELBO, reconstruction and KL panels in nats per
    example, one colour per model: validation solid, training dotted. The y-axes of a panel are
    shared by every model, so the curves are read against each other."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in _CURVES], horizontal_spacing=0.08)
    for i, (name, history) in enumerate(histories.items()):
        epochs = [h.get("epoch", j + 1) for j, h in enumerate(history)]
        shown = False
        for col, (key, _) in enumerate(_CURVES, start=1):
            for split, dash, width in (("val", "solid", 2.5), ("train", "dot", 1.5)):
                ys = [h.get(f"{split}_{key}") for h in history]
                if all(v is None for v in ys):
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=ys,
                        mode="lines",
                        name=f"{name} ({split})",
                        legendgroup=name,
                        showlegend=not shown or col == 1,
                        line=dict(color=model_color(i), dash=dash, width=width),
                        hovertemplate=f"{name} {split}<br>epoch %{{x}}: %{{y:.2f}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
            shown = True
    for col, (key, _) in enumerate(_CURVES, start=1):
        fig.update_xaxes(title_text="epoch", row=1, col=col)
        window = _settled_range(
            [[h.get(f"{s}_{key}") for h in hist] for hist in histories.values() for s in ("val", "train")]
        )
        if window:
            fig.update_yaxes(range=window, row=1, col=col)
    fig.update_yaxes(title_text="nats per example", row=1, col=1)
    if not fig.data:
        fig.add_annotation(text="no training history stored", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(
        template=TEMPLATE, height=380, margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.28)
    )
    return fig


def _settled_range(curves) -> list[float] | None:
    """A y-range for curves (lists, None for missing) that leaves out each curve's first epoch, whose
    value (an untrained model's) would otherwise flatten every later difference into one line."""
    values = [v for c in curves for v in (c[1:] if len(c) > 2 else c) if v is not None and np.isfinite(v)]
    if not values:
        return None
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.08, 0.5)
    return [lo - pad, hi + pad]


def labelled_strips(strips: dict, column_labels=None, *, cell: int | None = None, label_width: int = 160) -> go.Figure:
    """Rows of images side by side, each row named on the left: {row name: (N, C, H, W)}, every row
    the same N; column_labels (N strings) under the columns. One picture, so it draws fast."""
    names = list(strips)
    tiles = np.stack([np.asarray(v) for v in strips.values()])  # (R, N, C, H, W)
    picture = _as_hwc(tiles)
    r, n, _, h, w = tiles.shape
    fig = go.Figure(go.Image(source=_png_uri(picture), hoverinfo="skip"))
    cell = cell or max(36, min(72, 900 // max(n, 1)))  # pixels per image on screen
    fig.update_layout(
        template=TEMPLATE,
        height=r * cell + (40 if column_labels is not None else 20),
        width=n * cell + label_width + 10,
        margin=dict(l=label_width, r=10, t=10, b=30 if column_labels is not None else 10),
    )
    fig.update_yaxes(
        range=[r * h - 0.5, -0.5],
        showgrid=False,
        zeroline=False,
        scaleanchor="x",
        tickmode="array",
        tickvals=[(k + 0.5) * h - 0.5 for k in range(r)],
        ticktext=names,
    )
    x_ticks = (
        dict(
            tickmode="array", tickvals=[(k + 0.5) * w - 0.5 for k in range(n)], ticktext=[str(c) for c in column_labels]
        )
        if column_labels is not None
        else dict(showticklabels=False)
    )
    fig.update_xaxes(range=[-0.5, n * w - 0.5], showgrid=False, zeroline=False, **x_ticks)
    return fig


def reconstructions(originals, recons: dict, ids=None) -> go.Figure:
    """The same test images (N, C, H, W) in the top row and each model's reconstruction of them in
    a row below, labelled with the model's name (recons: {name: (N, C, H, W)})."""
    return labelled_strips({"test images": originals, **recons}, None if ids is None else [f"#{i}" for i in ids])


def add_prior_means(fig: go.Figure, means, class_names=None) -> go.Figure:
    """A class-prior model's prior means mu_y (K, 2) as labelled diamonds in the class colours, on
    its latent map: each class's points should gather around its own diamond."""
    from vae.plots.explore import label_color

    means = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    names = (
        [str(n) for n in class_names]
        if class_names is not None and len(class_names) == len(means)
        else [str(i) for i in range(len(means))]
    )
    fig.add_trace(
        go.Scatter(
            x=means[:, 0],
            y=means[:, 1],
            mode="markers+text",
            name="prior means μ_y",
            text=names,
            textposition="middle center",
            textfont=dict(color="white", size=10),
            marker=dict(
                symbol="diamond",
                size=18,
                color=[label_color(i) for i in range(len(means))],
                line=dict(color="#111111", width=1.5),
            ),
            hovertemplate="μ_y of class %{text}<br>(%{x:.2f}, %{y:.2f})<extra></extra>",
        )
    )
    return fig
