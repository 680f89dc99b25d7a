"""python -m vae list | rename | delete: the saved models."""

from __future__ import annotations

from vae.store import catalog as store


def register(sub, common) -> None:
    """Add this group's commands to the parser's subcommands."""
    ls = sub.add_parser("list", help="list saved models")
    r = sub.add_parser("rename", help="rename a saved model")
    r.add_argument("old")
    r.add_argument("new")
    d = sub.add_parser("delete", help="delete a saved model")
    d.add_argument("name")

    ls.set_defaults(func=_cmd_list)
    r.set_defaults(func=_cmd_rename)
    d.set_defaults(func=_cmd_delete)


def _cmd_list(args) -> int:
    for m in store.list_models(args.models_dir):
        if m.error:
            print(f"{m.name:24s} BROKEN: {m.error}")
            continue
        elbo = m.metrics.get("elbo")
        print(
            f"{m.name:24s} {m.config.describe():32s} {m.dataset or '?':14s} "
            f"{f'test ELBO {elbo:.2f}' if elbo is not None else ''}{' (bundled)' if m.bundled else ''}"
            f"{' resumable' if m.resumable else ''}"
        )
    return 0


def _cmd_rename(args) -> int:
    print(store.rename(args.old, args.new, args.models_dir).path)
    return 0


def _cmd_delete(args) -> int:
    store.delete(args.name, args.models_dir)
    print(f"deleted {args.name}")
    return 0
