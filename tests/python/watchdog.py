"""A deadlock guard for the GIL tests, shared by the suites.

If the test's thread cannot run within the time (because another thread holds the GIL while it
waits in C), a C-level timer that needs no GIL dumps the stacks and ends the process with status
1: the run fails quickly instead of hanging (pytest's capture loses the dump with the process;
run pytest with -s to see it)."""
import faulthandler


class Watchdog:
    def __init__(self, seconds=30):
        self.seconds = seconds

    def __enter__(self):
        faulthandler.dump_traceback_later(self.seconds, exit=True)
        return self

    def __exit__(self, *exc):
        faulthandler.cancel_dump_traceback_later()
