"""`python -m denseops ...` is the same as the `denseops` command."""

from denseops.cli import main

if __name__ == "__main__":  # importing the module (a documentation tool does) runs nothing
    raise SystemExit(main())
