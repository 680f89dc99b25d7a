"""The store under killed writers, racing writers and concurrent readers, with real processes.

A forked child runs one store operation under a sys.settrace hook that SIGKILLs the child at the
Nth executed line of the store's writing code (every function of vae/store/catalog.py and vae/store/storage.py
except those that only read), for every N until the operation finishes. After each kill the model
is checked as a reader sees it (the old version whole, or the new one whole), then as the next
process sees it after recover(): no leftovers, and the model still there unless it was being
deleted or created.
"""

import os
import shutil
import signal
import sys

import pytest
import torch

from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store
from vae.store import storage

TRACED = {os.path.abspath(m.__file__) for m in (store, storage)}
READERS = {"find", "_user_model", "_folder", "_info", "_read", "read_files", "_read_once"}
KILLED, DONE, REFUSED = "killed", "done", "refused"


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch):
    """Processes are killed here, not machines: fsync would only make every save wait on the disk."""
    monkeypatch.setattr(storage, "DURABLE", False)


def _model(k: float):
    """A tiny model whose every weight is k, so any version is recognised by one number."""
    model = build(ModelConfig(image_shape=(1, 4, 4), hidden=(3,), latent_dim=1), seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(k)
    return model


def _fork(action, kill_at: int | None = None, before=None) -> str:
    """Run action() in a forked child, SIGKILLed at its kill_at-th traced line if it gets there."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            if before is not None:
                before()
            count = 0

            def tracer(frame, event, arg):
                nonlocal count
                if frame.f_code.co_filename not in TRACED or frame.f_code.co_name in READERS:
                    return None
                if event == "line":
                    count += 1
                    if count == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                return tracer

            sys.settrace(tracer if kill_at else None)
            try:
                action()
                code = 0
            except store.StoreError:
                code = 3
            finally:
                sys.settrace(None)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return KILLED
    return {0: DONE, 3: REFUSED}.get(os.WEXITSTATUS(status), f"exit {os.WEXITSTATUS(status)}")


def _version(name: str, root) -> float | None:
    """The k of the model a reader loads under name, None if there is none (never a mix)."""
    try:
        model, info = store.load(name, root)
    except store.StoreError as e:
        assert "no model named" in str(e), e
        return None
    values = torch.cat([p.detach().flatten() for p in model.parameters()]).unique()
    assert len(values) == 1 and info.metrics["k"] == float(values[0]), "JSON and weights of two versions"
    return float(values[0])


def _leftovers(root) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".") or not any(p.iterdir()))


def _kill_everywhere(tmp_path, existing, action, check, native=True) -> int:
    """For N = 1, 2, ...: a fresh folder (holding model "m" with weights 1.0 if existing), then
    action(root) killed at line N; check(root, finished) before and after recover(). Returns the
    number of lines the action ran."""
    template = tmp_path / "template"
    _save(template, 1.0)
    n = 0
    while True:
        n += 1
        root = tmp_path / f"n{n}"
        root.mkdir()
        if existing:
            shutil.copytree(template / "m", root / "m")
        outcome = _fork(lambda root=root: action(root), kill_at=n, before=lambda: setattr(storage, "NATIVE", native))
        assert outcome in (KILLED, DONE), outcome
        check(root, outcome == DONE, recovered=False)
        store.recover(root)
        assert _leftovers(root) == [], f"line {n}: leftovers after recover"
        check(root, outcome == DONE, recovered=True)
        shutil.rmtree(root)
        if outcome == DONE:
            return n - 1
        assert n < 2000, "the action never finished"


def _save(root, k, **kw):
    store.save(_model(k), "m", root, metrics={"k": k}, **kw)


@pytest.mark.parametrize("native", [True, False], ids=["renameat2", "portable"])
def test_overwrite_killed_at_every_line_keeps_one_whole_version(tmp_path, native):
    def check(root, finished, recovered):
        seen = _version("m", root)
        if finished:
            assert seen == 2.0
        elif native or recovered:
            assert seen in (1.0, 2.0), "an overwrite cut short lost the model"
        else:  # the portable overwrite, cut between its renames: the old version waits in .trash-
            assert seen in (1.0, 2.0) or any(p.name.startswith(storage.TRASH) for p in root.iterdir())

    lines = _kill_everywhere(tmp_path, True, lambda r: _save(r, 2.0, overwrite=True), check, native)
    assert lines > 40  # every line of the save path was a kill point


@pytest.mark.parametrize("native", [True, False], ids=["renameat2", "portable"])
def test_new_save_killed_at_every_line_is_all_or_nothing(tmp_path, native):
    def check(root, finished, recovered):
        assert _version("m", root) in ((2.0,) if finished else (None, 2.0))

    _kill_everywhere(tmp_path, False, lambda r: _save(r, 2.0), check, native)


def test_rename_and_delete_killed_at_every_line(tmp_path):
    def renamed(root, finished, recovered):
        found = [_version("m", root), _version("b", root)]
        assert found == [None, 1.0] if finished else found in ([1.0, None], [None, 1.0])

    _kill_everywhere(tmp_path / "rename", True, lambda r: store.rename("m", "b", r), renamed)

    def deleted(root, finished, recovered):
        assert _version("m", root) in ((None,) if finished else (None, 1.0))

    _kill_everywhere(tmp_path / "delete", True, lambda r: store.delete("m", r), deleted)


@pytest.mark.parametrize("native", [True, False], ids=["renameat2", "portable"])
def test_two_racing_savers_without_overwrite_exactly_one_wins(tmp_path, native):
    """Both pass the early existence check, then both reach the swap at once: one is refused."""
    for round_ in range(6):
        root = tmp_path / f"r{round_}"
        root.mkdir()
        go_r, go_w = os.pipe()
        ready_r, ready_w = os.pipe()

        def gated(publish=storage.publish, ready_w=ready_w, go_r=go_r):
            def wait_then_publish(src, dst):
                os.write(ready_w, b"x")
                os.read(go_r, 1)
                publish(src, dst)

            storage.NATIVE = native
            storage.publish = wait_then_publish

        pids = []
        for k in (1.0, 2.0):
            pid = os.fork()
            if pid == 0:
                gated()
                code = 1
                try:
                    _save(root, k)
                    code = 0
                except store.StoreError:
                    code = 3
                finally:
                    os._exit(code)
            pids.append(pid)
        assert os.read(ready_r, 1) and os.read(ready_r, 1)  # both are at the swap
        os.write(go_w, b"yy")
        codes = [os.WEXITSTATUS(os.waitpid(pid, 0)[1]) for pid in pids]
        for fd in (go_r, go_w, ready_r, ready_w):
            os.close(fd)
        assert sorted(codes) == [0, 3], codes
        assert _version("m", root) == (1.0, 2.0)[codes.index(0)]  # the winner's model, whole
        store.recover(root)
        assert _leftovers(root) == []


def test_readers_see_whole_versions_while_a_writer_overwrites(tmp_path):
    """One process overwrites a model 60 times, renames another and saves and deletes a third;
    this one loads and lists all the while."""
    _save(tmp_path, 0.0)
    store.save(_model(9.0), "other", tmp_path, metrics={"k": 9.0})

    def writer():
        for k in range(1, 61):
            _save(tmp_path, float(k), overwrite=True)
            store.rename("other", "other2", tmp_path)
            store.rename("other2", "other", tmp_path)
            store.save(_model(5.0), "brief", tmp_path, metrics={"k": 5.0})
            store.delete("brief", tmp_path)

    pid = os.fork()
    if pid == 0:
        try:
            writer()
        finally:
            os._exit(0)
    seen = set()
    while not os.waitpid(pid, os.WNOHANG)[0]:
        seen.add(_version("m", tmp_path))  # asserts JSON and weights agree
        names = {m.name for m in store.list_models(tmp_path)}  # never raises mid-rename
        assert "m" in names
    assert None not in seen and _version("m", tmp_path) == 60.0
    assert len(seen) > 1  # the reader really ran while the writer wrote


def test_leftovers_of_a_live_writer_are_not_recovered(tmp_path):
    """recover() in one process must not remove another's save in progress (it holds a lock)."""
    busy = tmp_path / f"{storage.TMP}m-1"
    busy.mkdir()
    with storage.locked(busy):
        assert store.recover(tmp_path) == [] and busy.is_dir()
    assert store.recover(tmp_path) == [f"removed {busy.name}"]


def test_a_training_state_from_another_version_is_refused(tmp_path):
    _save(tmp_path, 1.0, training_state=({"t": torch.zeros(1)}, {"k": "1"}))
    _, info = store.load("m", tmp_path)
    assert store.load_training_state("m", tmp_path, version=info.version)[1]["k"] == "1"
    _save(tmp_path, 2.0, overwrite=True, training_state=({"t": torch.ones(1)}, {"k": "2"}))
    with pytest.raises(store.StoreError, match="overwritten while it was being read"):
        store.load_training_state("m", tmp_path, version=info.version)


def test_the_next_process_to_open_the_folder_cleans_up(tmp_path):
    """What a killed writer left: a temporary folder, and an overwrite's old version set aside
    (portable path) with nothing in its place. A new process's first list_models cleans both."""
    _save(tmp_path / "elsewhere", 1.0)  # this process never opens root before the child does
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{storage.TMP}x-1").mkdir()
    shutil.copytree(tmp_path / "elsewhere" / "m", root / f"{storage.TRASH}m-{storage.token()}")
    assert _fork(lambda: store.list_models(root)) == DONE
    assert _leftovers(root) == [] and _version("m", root) == 1.0
