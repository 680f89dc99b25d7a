"""Pure figures for the True posterior page: the latent plane (prior, p(z|x), q, q*, samples and
their eps), the gap bar, the closed-form KL against Monte Carlo, and IW(K) against K."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae.inference.scoring import ellipse
from vae.plots import explore as plots  # noqa: F401  (sets the default template)

Q_COLOR, QSTAR_COLOR, PRIOR_COLOR, SAMPLE_COLOR = "#1f77b4", "#d62728", "#7f7f7f", "#2ca02c"


def _ellipses(fig, mu, sigma, dims, name, color, **axes):
    for k, dash in ((1, "solid"), (2, "dash")):
        xs, ys = ellipse(np.asarray(mu)[list(dims)], np.diag(np.asarray(sigma)[list(dims)] ** 2), k)
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="lines",
            name=f"{name} {k}σ",
            line=dict(color=color, dash=dash, width=2),
            hoverinfo="skip",
            legendgroup=name,
            **axes,
        )


def _prior_contours(fig, **axes):
    """The 1, 2 and 3 sigma circles as one trace (gaps between them): fewer traces draw faster."""
    t = np.append(np.linspace(0, 2 * np.pi, 120), np.nan)
    xs, ys = (np.concatenate([r * f(t) for r in (1, 2, 3)]) for f in (np.cos, np.sin))
    fig.add_scatter(
        x=xs,
        y=ys,
        mode="lines",
        name="prior N(0, I) 1-3σ",
        connectgaps=False,
        line=dict(color=PRIOR_COLOR, width=1, dash="dot"),
        hoverinfo="skip",
        legendgroup="prior",
        showlegend=not axes,
        **axes,
    )


def posterior_plane(view, whole_prior: bool = False) -> go.Figure:
    """The latent plane of one image (2-D, or a slice above 2-D): p(z|x) as a heat map, the prior's
    contours, q's and q*'s 1 and 2 sigma ellipses, a few z = mu + sigma * eps with their eps on a
    small N(0, I) inset (top right)."""
    if len(view.dims) == 1:
        return posterior_line(view)
    i, j = view.dims
    names = (f"z{i + 1}", f"z{j + 1}")
    density = np.exp(view.log_post - view.log_post.max())
    fig = go.Figure(
        go.Heatmap(
            x=view.axes[0],
            y=view.axes[1],
            z=density.T,
            colorscale="Viridis",
            showscale=False,
            name="p(z|x)",
            hovertemplate="z=(%{x:.3f}, %{y:.3f})<br>density/max %{z:.3f}<extra>p(z|x)</extra>",
            zsmooth="best",
        )
    )
    _prior_contours(fig)
    _ellipses(fig, view.mu, view.sigma, view.dims, "q(z|x)", Q_COLOR)
    _ellipses(fig, view.mu_star, view.sigma_star, view.dims, "q*", QSTAR_COLOR)
    fig.add_scatter(
        x=view.z[:, i],
        y=view.z[:, j],
        mode="markers+text",
        name="z = μ + σ·ε",
        text=[str(k + 1) for k in range(len(view.z))],
        textposition="top center",
        textfont=dict(color="white"),
        marker=dict(color=SAMPLE_COLOR, size=9, line=dict(color="white", width=1)),
    )
    # the inset: the same eps on N(0, I)
    inset = dict(xaxis="x2", yaxis="y2")
    _prior_contours(fig, **inset)
    fig.add_scatter(
        x=view.eps[:, i],
        y=view.eps[:, j],
        mode="markers+text",
        text=[str(k + 1) for k in range(len(view.eps))],
        textposition="top center",
        marker=dict(color=SAMPLE_COLOR, size=7),
        name="ε ~ N(0, I)",
        showlegend=False,
        **inset,
    )
    title = "True posterior p(z|x)" if view.exact else f"Slice through q's mean along {names[0]}, {names[1]}"
    if whole_prior:
        fig.update_xaxes(range=[-4, 4])
        fig.update_yaxes(range=[-4, 4])
    else:
        fig.update_xaxes(range=[view.axes[0][0], view.axes[0][-1]])
        fig.update_yaxes(range=[view.axes[1][0], view.axes[1][-1]])
    fig.update_layout(
        title=title,
        height=540,
        margin=dict(l=50, r=10, t=50, b=70),
        xaxis=dict(title=dict(text=names[0], standoff=4), domain=[0, 1], constrain="domain"),
        yaxis=dict(title=names[1], scaleanchor="x", scaleratio=1, constrain="domain"),
        xaxis2=dict(
            domain=[0.78, 0.99],
            anchor="y2",
            range=[-3.2, 3.2],
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            title=dict(text="ε", standoff=0),
            mirror=True,
            showline=True,
            linecolor="#999",
        ),
        yaxis2=dict(
            domain=[0.74, 0.99],
            anchor="x2",
            range=[-3.2, 3.2],
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            scaleanchor="x2",
            mirror=True,
            showline=True,
            linecolor="#999",
        ),
        legend=dict(orientation="h", y=-0.14, yanchor="top"),
    )  # under the axis title, not on it
    fig.add_shape(
        type="rect",
        xref="x2 domain",
        yref="y2 domain",
        x0=0,
        y0=0,
        x1=1,
        y1=1,
        fillcolor="white",
        line=dict(width=0),
        layer="below",
    )
    return fig


def posterior_line(view) -> go.Figure:
    """A 1-D latent: p(z|x), q, q* and the prior as densities over z."""
    z = view.axes[0]
    norm = lambda m, s: np.exp(-0.5 * ((z - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))  # noqa: E731
    fig = go.Figure()
    fig.add_scatter(x=z, y=np.exp(view.log_post), name="p(z|x)", fill="tozeroy", line=dict(color="#440154"))
    fig.add_scatter(x=z, y=norm(view.mu[0], view.sigma[0]), name="q(z|x)", line=dict(color=Q_COLOR))
    fig.add_scatter(
        x=z, y=norm(view.mu_star[0], view.sigma_star[0]), name="q*", line=dict(color=QSTAR_COLOR, dash="dash")
    )
    fig.add_scatter(x=z, y=norm(0.0, 1.0), name="prior", line=dict(color=PRIOR_COLOR, dash="dot"))
    fig.add_scatter(
        x=view.z[:, 0],
        y=np.zeros(len(view.z)),
        mode="markers",
        name="z = μ + σ·ε",
        marker=dict(color=SAMPLE_COLOR, size=9, symbol="line-ns-open"),
    )
    return fig.update_layout(title="True posterior p(z|x)", xaxis_title="z", yaxis_title="density", height=420)


def gap_bar(view) -> go.Figure:
    """ELBO(q) + amortization gap + approximation gap = log p(x): one stacked bar (nats)."""
    parts = [
        ("amortization gap  ELBO(q*) − ELBO(q)", view.amortization_gap, "#ff7f0e", view.elbo_q),
        ("approximation gap  log p(x) − ELBO(q*)", view.approximation_gap, "#9467bd", view.elbo_qstar),
    ]
    fig = go.Figure()
    for name, width, color, base in parts:
        fig.add_bar(
            y=["nats"],
            x=[width],
            base=[base],
            orientation="h",
            name=f"{name}: {width:.2f}",
            marker_color=color,
            hovertemplate=f"{name}<br>%{{x:.3f}} nats<extra></extra>",
        )
    # three labels on two rows: ELBO(q*) and log p(x) are often a few hundredths of a nat apart
    marks = [
        ("ELBO(q)", view.elbo_q, -18, "left"),
        ("ELBO(q*)", view.elbo_qstar, -46, "right"),
        ("log p(x)", view.log_px, -18, "right"),
    ]
    for label, value, ay, anchor in marks:
        fig.add_vline(x=value, line=dict(color="#111", width=1, dash="dot"))
        fig.add_annotation(
            x=value,
            y=1,
            yref="paper",
            text=f"{label} {value:.2f}",
            showarrow=True,
            arrowhead=0,
            arrowwidth=1,
            arrowcolor="#888",
            ax=0,
            ay=ay,
            xanchor=anchor,
            yanchor="bottom",
            font=dict(size=11),
        )
    span = max(view.log_px - view.elbo_q, 1e-3)
    return fig.update_layout(
        barmode="stack",
        height=260,
        showlegend=True,
        xaxis=dict(title=dict(text="nats", standoff=4), range=[view.elbo_q - 0.15 * span, view.log_px + 0.15 * span]),
        yaxis=dict(showticklabels=False),
        margin=dict(l=10, r=10, t=80, b=30),
        legend=dict(orientation="h", y=-0.45, yanchor="top"),
    )


def kl_monte_carlo(view) -> go.Figure:
    """The running Monte Carlo mean of log q(z) - log p(z), z ~ q, against the closed form."""
    n = np.arange(1, len(view.kl_mc) + 1)
    fig = go.Figure(go.Scatter(x=n, y=view.kl_mc, mode="lines", name="Monte Carlo mean", line=dict(color=Q_COLOR)))
    fig.add_hline(
        y=view.kl_prior,
        line=dict(color="#111", dash="dash"),
        annotation_text=f"closed form {view.kl_prior:.3f}",
        annotation_position="top right",
    )
    return fig.update_layout(
        height=280,
        title="KL(q(z|x) || p(z)): closed form vs Monte Carlo",
        xaxis=dict(title="samples", type="log"),
        yaxis_title="nats",
        showlegend=False,
    )


def iw_curve(view) -> go.Figure:
    """IW(K) for K = 1 .. 5000 (nested draws of one run) approaching log p(x)."""
    fig = go.Figure(go.Scatter(x=view.iw_ks, y=view.iw, mode="lines+markers", name="IW(K)", line=dict(color=Q_COLOR)))
    fig.add_hline(
        y=view.log_px,
        line=dict(color=QSTAR_COLOR, dash="dash"),
        annotation_text=f"log p(x) {view.log_px:.2f} ({view.log_px_label})",
        annotation_position="bottom right",
    )
    above = np.asarray(view.iw) > view.log_px
    if above.any():  # a single draw is not a bound: only its expectation is
        fig.add_annotation(
            x=np.log10(np.asarray(view.iw_ks)[above][0]),
            y=float(np.asarray(view.iw)[above][0]),
            text="above log p(x): one random draw",
            showarrow=True,
            ax=30,
            ay=-26,
            font=dict(size=10),
            arrowcolor="#888",
        )
    return fig.update_layout(
        height=280,
        title="Importance-weighted bound vs K",
        xaxis=dict(title="K (samples)", type="log"),
        yaxis_title="nats",
        showlegend=False,
    )
