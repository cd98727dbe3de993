import signal
import sys


def _interrupted(signum, frame):  # Ctrl-C before the CLI's own handler is in place: one line, status 130
    import os

    os.write(2, b"deltaprop: interrupted\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted)

from .cli import main  # noqa: E402

sys.exit(main())
