"""``python -m fastgd``: the same as the ``fastgd`` command."""

from .cli import main

# The guard matters: `--workers` starts spawned processes, which import this
# module again (as __mp_main__) and must not run the command a second time.
if __name__ == "__main__":
    raise SystemExit(main())
