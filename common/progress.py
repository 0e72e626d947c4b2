"""Progress of the evaluation loops whose items take seconds to minutes (classifier trainings, feature
batches, bootstrap resamples): a line per finished item, or per `interval` seconds, with an ETA. Plain
lines read the same in a terminal and in a log file, where a Keras progress bar's carriage returns
pile up, and they do not fight with the bars of the classifier trainings an item may run."""
import time


def duration(seconds):
    """'40 s', '12 min', '2.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class Progress:
    """`step()` after each finished item prints `[prefix: ]message [done/total unit, ETA ...]`.

    work: the total work when items differ in cost (e.g. a classifier on k images per class: work k);
    the ETA scales the time so far by the work left. interval: at most one line per this many seconds
    (the last item always prints), for loops of many short items. verbose: False prints nothing."""

    def __init__(self, total, prefix="", unit="", work=None, interval=0.0, verbose=True):
        self.total, self.prefix, self.unit, self.interval, self.verbose = total, prefix, unit, interval, verbose
        self.work = total if work is None else work
        self.done = self.done_work = 0
        self.started = self.printed = time.perf_counter()

    def step(self, message="", n=1, work=None, skipped=False):
        """n items finished (their work: `work`, default n). skipped: they had nothing to do (e.g. a
        result already on disk), so they count as done but stay out of the ETA."""
        work = n if work is None else work
        self.done += n
        if skipped:
            self.work -= work
        else:
            self.done_work += work
        now = time.perf_counter()
        if not self.verbose or (now - self.printed < self.interval and self.done < self.total):
            return
        self.printed, elapsed = now, now - self.started
        if self.done >= self.total:
            when = f"{duration(elapsed)} in all"
        elif self.done_work > 0:
            when = f"ETA {duration(elapsed * (self.work - self.done_work) / self.done_work)}"
        else:
            when = "ETA unknown"
        text = ": ".join(part for part in (self.prefix, message) if part)
        count = f"{self.done}/{self.total}" + (f" {self.unit}" if self.unit else "")
        print(f"{text} [{count}, {when}]", flush=True)
