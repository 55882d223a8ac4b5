"""`python -m emulator` is `transcode-emulator`."""

from emulator.cli import main

raise SystemExit(main())
