"""`python -m livetokens.server` is the `livetokens` command."""

from livetokens.server.cli import main

raise SystemExit(main())
