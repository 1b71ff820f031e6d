"""Minimal stderr progress bar (no dependencies). Silent unless stderr is a TTY."""
import sys
import time


class Progress:
    def __init__(self, label, total=None, unit="B", stream=None, enabled=None):
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = enabled
        self.start = time.monotonic()
        self._last = 0.0
        self.value = 0

    def _fmt(self, v):
        if self.unit == "B":
            return "%.1f MB" % (v / 1e6)
        return "{:,}".format(int(v))

    def update(self, value, force=False):
        self.value = value
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = value / elapsed
        rate_s = ("%.1f MB/s" % (rate / 1e6)) if self.unit == "B" else ("{:,.0f}/s".format(rate))
        if self.total:
            frac = min(value / self.total, 1.0)
            width = 30
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            msg = "%s [%s] %5.1f%% %s/%s %s" % (
                self.label, bar, 100 * frac, self._fmt(value), self._fmt(self.total), rate_s)
        else:
            msg = "%s %s %s" % (self.label, self._fmt(value), rate_s)
        self.stream.write("\r" + msg + "\x1b[K")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.update(self.value, force=True)
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        elif self.enabled:
            self.stream.write("\n")
            self.stream.flush()
        return False
