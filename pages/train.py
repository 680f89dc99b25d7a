"""Train: fit a new VAE on a named dataset or an upload, watch it learn, and keep it in the store."""

import streamlit as st

from ui import resources, shell, train_form
from vae.plots import explore as plots
from vae.training import jobs

shell.page(
    "Train",
    "Train a new VAE and watch its ELBO, reconstruction and KL (and, with a 2-D latent, its latent "
    "map) change epoch by epoch. Training runs in the background: leave the page and come back, the "
    "model is saved to the store when it ends.",
    needs_model=False,
)

registry = resources.training_jobs()
jobs.warm_up()  # the process that starts training jobs, ready before "Start training" is pressed


def _select(name: str) -> None:
    resources.model_list.clear()  # the new model shows up in the sidebar at once
    st.session_state["pending_model"] = name  # ui/shell.py selects it before drawing the sidebar


def job_ui(job: jobs.Job, polling: bool) -> None:
    """Every run of this server, then the progress, curves and live latent map of one; redrawn every
    second while that one runs."""
    runs = sorted(registry.values(), key=lambda j: j.started, reverse=True)
    st.dataframe([j.summary() for j in runs], hide_index=True, height=min(35 * len(runs) + 38, 250))
    tc, h = job.train_config, job.history
    st.subheader(f"{job.name} · {job.model_config.describe()} · {job.dataset.get('name')}")
    if job.running:
        elbo = (job.last_metrics or {}).get("elbo")
        st.progress(
            job.fraction,
            text=f"{job.state} · epoch {len(h)}/{tc.epochs} · step {job.step}/"
            f"{job.total_steps}" + (f" · batch ELBO {elbo:.1f} nats" if elbo is not None else ""),
        )
        st.button("Stop (keeps the best weights)", key="tr_stop", on_click=job.stop)
    if h:
        st.caption(
            f"Last epoch: {h[-1]['seconds']:.1f} s · validation ELBO {h[-1].get('val_elbo', float('nan')):.1f} nats"
        )
    st.plotly_chart(plots.loss_curves(h), width="stretch", key="tr_curves")
    mu = job.preview_latents() if job.model_config.latent_dim == 2 else None
    if mu is not None:
        fig = plots.latent_map(
            mu,
            labels=job.preview_labels,
            class_names=job.dataset.get("class_names"),
            title=f"Validation images in the latent space after epoch {len(h)}",
        )
        st.plotly_chart(fig.update_layout(height=460), width="stretch", key="tr_map")
    if polling and not job.running:
        st.rerun(scope="app")  # the whole page once more: stops polling, shows the result


s = train_form.settings_ui()
mine = registry.get(st.session_state.get("tr_job", ""))
if st.button("Start training", type="primary", key="tr_start", disabled=bool(mine and mine.running)):
    try:
        mine = train_form.start(s, registry)
    except (ValueError, OSError) as e:
        st.error(str(e))
    except Exception as e:  # noqa: BLE001  (an uploaded dataset that breaks its reader: one clear error)
        shell.file_error("The training data", e)
    else:
        st.session_state["tr_job"] = st.session_state["tr_shown"] = mine.name
        st.rerun()

if registry:
    names = sorted(registry, key=lambda n: registry[n].started, reverse=True)
    if st.session_state.get("tr_shown") not in names:
        st.session_state["tr_shown"] = mine.name if mine else names[0]
    job = registry[st.selectbox("Runs on this server", names, key="tr_shown", help="Pick a run to see its curves.")]
    polling = job.running
    st.fragment(job_ui, run_every=1.0 if polling else None)(job, polling)
    if job.state == "done":  # outside the fragment: the button must rerun the sidebar too
        m = job.saved.metrics
        st.success(
            f"Saved as **{job.name}** ({job.outcome}: {job.message}). Test ELBO {m['elbo']:.1f} nats, "
            f"log p(x) ≥ {m['iw_log_likelihood']:.1f} (IW, K={m['iw_samples']})."
        )
        st.button(
            f"Explore {job.name}",
            key="tr_select",
            on_click=_select,
            args=(job.name,),
            type="primary",
            help="Make it the model selected in the sidebar.",
        )
    elif job.state == "failed":
        st.error(f"Training failed: {job.error}")
    elif job.state == "interrupted":
        st.warning(f"Interrupted: {job.message or job.error}")
