"""Pure functions from data to plotly figures: latent maps, image grids, training curves, KL bars.

No streamlit here: every figure is unit-tested without a browser. Class i has the same colour in
every figure (label_color); latent maps keep equal aspect so distances look like distances.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from vae.inference import latent, scoring

# Tab10 (plotly's D3), then the light Tab20 partners for classes 10-18; grey is kept for "inactive".
LABEL_COLORS: tuple[str, ...] = tuple(qualitative.D3) + (
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
)
INACTIVE_COLOR = "#c7c7c7"
TEMPLATE = "plotly_white"
# The default template is applied when a figure is serialized, almost free; passing template= to
# every figure validates the whole template each time (~30 ms a figure quiet, 120 ms on a busy
# machine: most of the Reconstruct page's server time per picture).
pio.templates.default = TEMPLATE


def label_color(i: int) -> str:
    """The colour of class i, the same in every figure (wraps after len(LABEL_COLORS))."""
    return LABEL_COLORS[int(i) % len(LABEL_COLORS)]


def _png_uri(array: np.ndarray) -> str:
    """(H, W) or (H, W, 3) image, uint8 or floats in [0, 1] -> a PNG data URI."""
    from PIL import Image

    a = np.asarray(array)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _equal_aspect(fig: go.Figure, axis_names, title) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=axis_names[0], yaxis_title=axis_names[1], margin=dict(l=50, r=20, t=50, b=50)
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def latent_map(
    coords,
    *,
    labels=None,
    class_names=None,
    color_values=None,
    color_title=None,
    ids=None,
    axis_names=("z1", "z2"),
    title=None,
    backdrop=None,
    marker_size: int = 4,
    webgl: bool = True,
) -> go.Figure:
    """Scatter of 2-D latent coords (N, 2): one trace per class with labels, else one trace coloured
    by color_values. customdata holds the global row id (ids, default arange(N)), since a
    selection's point_index counts within its trace. backdrop: dict(image=(H, W[, 3]) array with
    row 0 at the top, x_range=(x0, x1), y_range=(y0, y1)) drawn under the points."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    ids = np.arange(len(coords)) if ids is None else np.asarray(ids)
    scatter = go.Scattergl if webgl else go.Scatter  # SVG redraws faster for small N without a GPU
    fig = go.Figure()
    if labels is not None:
        labels = np.asarray(labels)
        integer = np.issubdtype(labels.dtype, np.integer)
        for i, c in enumerate(np.unique(labels)):
            m = labels == c
            color_index = int(c) if integer else i
            named = integer and class_names is not None and 0 <= c < len(class_names)
            name = str(class_names[int(c)]) if named else str(c)
            fig.add_trace(
                scatter(
                    x=coords[m, 0],
                    y=coords[m, 1],
                    mode="markers",
                    name=name,
                    customdata=ids[m],
                    marker=dict(size=marker_size, color=label_color(color_index)),
                    hovertemplate=f"id %{{customdata}}<br>{name}<extra></extra>",
                )
            )
    else:
        marker = dict(size=marker_size, color=label_color(0))
        hover = "id %{customdata}"
        if color_values is not None:
            marker.update(
                color=np.asarray(color_values),
                colorscale="Viridis",
                showscale=True,
                colorbar=dict(title=color_title or ""),
            )
            hover += f"<br>{color_title or 'value'} %{{marker.color:.3g}}"
        fig.add_trace(
            scatter(
                x=coords[:, 0],
                y=coords[:, 1],
                mode="markers",
                name="points",
                customdata=ids,
                marker=marker,
                hovertemplate=hover + "<extra></extra>",
            )
        )
    if backdrop is not None:
        (x0, x1), (y0, y1) = backdrop["x_range"], backdrop["y_range"]
        fig.add_layout_image(
            source=_png_uri(backdrop["image"]),
            xref="x",
            yref="y",
            x=x0,
            y=y1,
            sizex=x1 - x0,
            sizey=y1 - y0,
            sizing="stretch",
            layer="below",
            opacity=0.6,
        )
        fig.update_xaxes(range=[x0, x1])
        fig.update_yaxes(range=[y0, y1])
    # pan, not lasso: Streamlit reports a click on a point as a selection only outside the box and
    # lasso drag modes; both stay one click away in the chart toolbar
    fig.update_layout(dragmode="pan", legend=dict(itemsizing="constant"), height=600)
    return _equal_aspect(fig, axis_names, title)


def add_point(
    fig: go.Figure, xy, *, sigma=None, name: str = "you", color: str = "#111111", size: int = 18
) -> go.Figure:
    """A star at xy and, given sigma (2,), the dashed 1- and 2-sigma ellipses of N(xy, diag sigma^2)."""
    xy = np.asarray(xy, dtype=np.float64).ravel()
    if sigma is not None:
        for k, dash in ((1, "dash"), (2, "dot")):
            ex, ey = latent.sigma_ellipse(xy, np.asarray(sigma, dtype=np.float64).ravel(), k)
            fig.add_trace(
                go.Scatter(
                    x=ex,
                    y=ey,
                    mode="lines",
                    name=f"{name} {k}σ",
                    hoverinfo="skip",
                    line=dict(color=color, dash=dash, width=1.5),
                )
            )
    fig.add_trace(
        go.Scatter(
            x=[xy[0]],
            y=[xy[1]],
            mode="markers",
            name=name,
            marker=dict(symbol="star", size=size, color=color, line=dict(color="white", width=1.5)),
            hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
        )
    )
    return fig


def add_hole_map(fig: go.Figure, xs, ys, values) -> go.Figure:
    """log q(z) - log p(z) on a grid, under the points: red where the codes' density falls far below
    the prior's (holes: prior samples there decode to blurs), blue where the codes crowd."""
    clipped = np.clip(np.asarray(values, np.float64), -6.0, 6.0)
    fig.add_trace(go.Heatmap(x=xs, y=ys, z=clipped, zmin=-6, zmax=6, colorscale="RdBu", opacity=0.55, zsmooth="best",
                             colorbar=dict(title="log q(z)/p(z)", x=1.12), hoverinfo="skip", name="holes"))  # fmt: skip
    fig.data = (fig.data[-1], *fig.data[:-1])  # drawn first: under the points
    return fig


def add_prior_samples(fig: go.Figure, points) -> go.Figure:
    """Samples of the prior (M, 2) on a map, over the points: small black crosses, not selectable."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    marker = dict(symbol="x-thin", size=5, color="#111111", line=dict(width=1, color="#111111"))
    fig.add_trace(
        go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", name="prior", hoverinfo="skip", marker=marker)
    )
    return fig


def add_input(fig: go.Figure, centre, cov, name: str) -> go.Figure:
    """An input's q(z|x) on a map, made to stand out: the points already there faded, its 1σ and 2σ
    ellipses (of the 2x2 covariance `cov`), a large star and its name in a box pointing at it."""
    fig.update_traces(marker_opacity=0.3)
    for k, dash in ((1, "solid"), (2, "dash")):
        xs, ys = scoring.ellipse(centre, cov, k)
        line = dict(color="#111111", dash=dash, width=2.5)
        fig.add_scatter(x=xs, y=ys, mode="lines", name=f"{k}σ of q(z|x)", hoverinfo="skip", line=line)
    add_point(fig, centre, name=name, size=26)
    fig.add_annotation(x=centre[0], y=centre[1], text=f"<b>{name}</b>", ax=40, ay=-40, arrowwidth=2,
                       bgcolor="rgba(255,255,255,0.85)", bordercolor="#111111")  # fmt: skip
    return fig


def add_click_targets(fig: go.Figure, extent: float, n: int = 33) -> go.Figure:
    """An invisible n x n grid over [-extent, extent]^2, drawn first, so a click on empty space still
    selects a point (Plotly reports clicks on points only) and the page can read its (x, y)."""
    values = np.linspace(-extent, extent, n)
    gx, gy = np.meshgrid(values, values)
    fig.add_trace(
        go.Scatter(
            x=gx.ravel(),
            y=gy.ravel(),
            mode="markers",
            name="click target",
            marker=dict(size=8, color="rgba(0,0,0,0)"),
            showlegend=False,
            hovertemplate="set z = (%{x:.2f}, %{y:.2f})<extra></extra>",
        )
    )
    fig.data = fig.data[-1:] + fig.data[:-1]  # under the data points
    return fig


def add_path(fig: go.Figure, coords, name: str = "path", color: str = "#111111") -> go.Figure:
    """An interpolation path (steps, 2): a line with markers numbered 0..steps-1."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    fig.add_trace(
        go.Scatter(
            x=coords[:, 0],
            y=coords[:, 1],
            mode="lines+markers+text",
            name=name,
            text=[str(i) for i in range(len(coords))],
            textposition="top center",
            line=dict(color=color, width=2),
            marker=dict(size=7, color=color),
            hovertemplate="step %{text}<br>(%{x:.2f}, %{y:.2f})<extra></extra>",
        )
    )
    return fig


def highlight(fig: go.Figure, coords, name: str = "selected", color: str = "#111111") -> go.Figure:
    """Ring the points (N, 2) of a selection, e.g. to show on a second map where they lie."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    fig.add_trace(
        go.Scattergl(
            x=coords[:, 0],
            y=coords[:, 1],
            mode="markers",
            name=name,
            hoverinfo="skip",
            marker=dict(size=9, color="rgba(0,0,0,0)", line=dict(color=color, width=1.5)),
        )
    )
    return fig


def _as_hwc(array) -> np.ndarray:
    """(H, W), (H, W, C), (C, H, W) or a tile grid (n, m, C, H, W) -> (H, W) or (H, W, 3)."""
    a = np.asarray(array)
    if a.ndim == 5:  # (rows, cols, C, H, W) -> (rows*H, cols*W, C)
        r, c, ch, h, w = a.shape
        a = a.transpose(0, 3, 1, 4, 2).reshape(r * h, c * w, ch)
    elif a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a


def _cell_ticks(values, pixels: int) -> dict:
    """Ticks at the centres of len(values) equal cells spanning `pixels` pixels."""
    n = len(values)
    centres = (np.arange(n) + 0.5) * pixels / n - 0.5
    return dict(tickmode="array", tickvals=centres.tolist(), ticktext=[f"{v:.2g}" for v in values])


def image(array, *, title=None, x=None, y=None, axis_titles=None) -> go.Figure:
    """A greyscale or RGB image (uint8, or floats in [0, 1]) at equal aspect, no colour bar. x / y:
    coordinate values of the grid's columns (left to right) / rows (top to bottom) as tick labels."""
    a = _as_hwc(array)
    h, w = a.shape[:2]
    fig = go.Figure(go.Image(source=_png_uri(a), hoverinfo="skip"))
    side = 560 if max(h, w) > 64 else 320  # small images are shown enlarged, grids at a readable size
    fig.update_layout(
        title=title,
        height=side + (80 if title else 40),
        width=int(side * w / h) + 80,
        margin=dict(l=50, r=20, t=50 if title else 10, b=50),
    )
    fig.update_xaxes(
        range=[-0.5, w - 0.5],
        showgrid=False,
        zeroline=False,
        **(_cell_ticks(x, w) if x is not None else dict(showticklabels=False)),
    )
    fig.update_yaxes(
        range=[h - 0.5, -0.5],
        showgrid=False,
        zeroline=False,
        scaleanchor="x",
        **(_cell_ticks(y, h) if y is not None else dict(showticklabels=False)),
    )
    if axis_titles is not None:
        fig.update_layout(xaxis_title=axis_titles[0], yaxis_title=axis_titles[1])
    return fig


_CURVES = (("elbo", "ELBO"), ("reconstruction", "Reconstruction log p(x|z)"), ("kl", "KL(q(z|x) || p(z))"))
_SPLITS = (("train", "solid", 0), ("val", "dash", 1))


def _has(history, key: str) -> bool:
    return any(h.get(f"{split}_{key}") is not None for h in history for split, _, _ in _SPLITS)


def loss_curves(history) -> go.Figure:
    """Per-epoch dicts (epoch, train_/val_ elbo, reconstruction, kl, iw_bound; any may be missing or
    None) -> one panel per quantity the history holds, in nats per example, train solid and
    validation dashed; the importance-weighted bound (where recorded) beside the ELBO. Before the
    first epoch all three panels, empty, say so."""
    curves = [c for c in _CURVES if _has(history, c[0])] or list(_CURVES)
    fig = make_subplots(rows=1, cols=len(curves), subplot_titles=[t for _, t in curves], horizontal_spacing=0.08)
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    in_legend: set[str] = set()
    for col, (key, _) in enumerate(curves, start=1):
        keys = [key, "iw_bound"] if key == "elbo" else [key]
        for quantity in keys:
            for split, dash, colour in _SPLITS:
                ys = [h.get(f"{split}_{quantity}") for h in history]
                if all(v is None for v in ys):
                    continue
                name = split if quantity == key else f"{split} IW bound"
                fig.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=ys,
                        mode="lines+markers",
                        name=name,
                        legendgroup=name,
                        showlegend=name not in in_legend,
                        line=dict(color=label_color(colour + 2 * (quantity != key)), dash=dash),
                        marker=dict(size=5),
                    ),
                    row=1,
                    col=col,
                )
                in_legend.add(name)
        fig.update_xaxes(title_text="epoch", row=1, col=col, dtick=1 if len(history) <= 15 else None)
    fig.update_yaxes(title_text="nats per example", row=1, col=1)
    if not fig.data:
        fig.add_annotation(text="no epochs yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(height=340, margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.25))
    return fig


def kl_bars(kl_per_dim, active_mask) -> go.Figure:
    """Average KL per latent dimension in nats; inactive dimensions greyed."""
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    active = np.asarray(active_mask, dtype=bool)
    colors = [label_color(0) if a else INACTIVE_COLOR for a in active]
    fig = go.Figure(
        go.Bar(
            x=[f"z{i + 1}" for i in range(len(kl))],
            y=kl,
            marker_color=colors,
            hovertemplate="%{x}: %{y:.3f} nats<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"KL per dimension ({int(active.sum())} of {len(kl)} active)",
        xaxis_title="latent dimension",
        yaxis_title="KL (nats)",
        height=320,
        margin=dict(l=60, r=20, t=50, b=50),
    )
    return fig


def histogram_with_marker(values, marker, title) -> go.Figure:
    """Distribution of log-likelihoods (e.g. the test set) with a vertical line at one value; a value
    far in the left tail suggests the input is out of distribution."""
    values = np.asarray(values, dtype=np.float64)
    fig = go.Figure(go.Histogram(x=values, nbinsx=50, marker_color=label_color(0), opacity=0.75, name="test set"))
    if marker is not None:
        below = float((values < marker).mean() * 100) if len(values) else float("nan")
        fig.add_vline(
            x=float(marker),
            line=dict(color="#d62728", dash="dash", width=2),
            annotation_text=f"{marker:.1f} nats ({below:.0f}% of test set below)",
            annotation_position="top",
        )
    fig.update_layout(
        title=title,
        xaxis_title="log-likelihood (nats)",
        yaxis_title="count",
        height=340,
        showlegend=False,
        margin=dict(l=60, r=20, t=60, b=50),
    )
    return fig
