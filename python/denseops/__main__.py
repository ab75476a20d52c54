"""`python -m denseops ...` is the same as the `denseops` command."""

from denseops.cli import main

raise SystemExit(main())
