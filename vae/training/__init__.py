"""Training: the loop (fit), resuming, torchrun, jobs in their own processes, recovery, recipes.

loop.py (fit, test_metrics), resume.py (the training state), distributed.py (torchrun groups),
jobs.py and worker.py (a job per process), intake.py (what a run is given), recovery.py (jobs a
stopped server left), recipes.py (the reference systems' settings).
"""

from vae.training.loop import fit

__all__ = ["fit"]
