"""Small test helpers shared by the Xero connector tests."""
import time


class FakeTime:
    """A clock that moves only when slept on, so limit waits take no real time. It can
    move the sandbox's clock along with it, as if the wait had really happened."""

    def __init__(self, sandbox=None):
        self.now = time.time()
        self.slept: list[float] = []
        self.sandbox = sandbox

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.sandbox is not None and seconds > 0:
            self.sandbox.advance(seconds)
