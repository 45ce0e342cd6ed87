"""The `callqa` command (and `python -m callqa`).

For the commands that run flows (`run`, `rescore`), Prefect's temporary server is launched before the
command line's own modules load (polars, rich, the reports: a third of a second), since the server is
what a one-call run waits for first (pipelines/orchestration.py). Everything else is callqa.cli's.
"""

from __future__ import annotations

import sys

FLOW_COMMANDS = ("run", "rescore")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] and args[0] in FLOW_COMMANDS and not {"--help", "-h"} & set(args):
        from pipelines.orchestration import launch_early

        launch_early()
    from callqa.cli import entry

    entry()


if __name__ == "__main__":
    main()
