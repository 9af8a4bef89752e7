"""The garbage collector's tuning while apps serve in this process, given back after the last one.

Young collections every 50,000 allocations (not 700), and a full one only after 20 x 20 of them:
under load the default thresholds ran a full collection every few seconds, each stopping every
socket of the worker for 40-125 ms (measured: 6 in 20 s at 2,000 fixes/s); what start-up built is
frozen out of their sight anyway, and cycles that die young are still collected young.

Apps may overlap in one process (tests, an embedding host): the first to start remembers what it
found, the last to stop puts it back.
"""

import gc

GC_THRESHOLDS = (50_000, 20, 20)

_serving = 0
_found: tuple[tuple[int, int, int], bool] | None = None  # thresholds, and whether nothing was frozen


def tune_for_serving() -> None:
    """An app has started: what start-up built is frozen (a full collection no longer walks it while
    sockets wait), and the thresholds are raised."""
    global _serving, _found
    if _serving == 0:
        _found = (gc.get_threshold(), gc.get_freeze_count() == 0)
    _serving += 1
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def untune_after_serving() -> None:
    """An app has stopped; after the last one, the collector is as the first found it. Objects the
    host froze itself stay frozen (there is one frozen generation: then nothing is unfrozen)."""
    global _serving
    _serving = max(0, _serving - 1)
    if _serving == 0 and _found is not None:
        thresholds, nothing_was_frozen = _found
        gc.set_threshold(*thresholds)
        if nothing_was_frozen:
            gc.unfreeze()
