#!/usr/bin/env python3
"""hold_simpy - the hold benchmark of bench_hold.c, written in SimPy, for comparison.

PENDING processes each wait Exp(mean 1 s) forever; every expiry is one event. The run stops after
EVENTS events and reports events per second of wall time. This is the idiomatic SimPy way to write
the model (a generator per entity, `yield env.timeout(...)`), which is what a SimPy user would write.

SimPy 3 (`import simpy`, Debian package python3-simpy3) is used when present; otherwise SimPy 2
(`SimPy.Simulation`, package python3-simpy), whose equivalent is `yield hold, self, delay`.

Usage: hold_simpy.py [-n EVENTS] [-p PENDING] [-s SEED]
Prints: "simpy <version>: <events> events in <seconds> s: <rate> events/s"
"""
import argparse
import random
import sys
import time


class Stop(Exception):
    """Raised from inside the model when the event budget is spent."""


def run_simpy3(simpy, events, pending, rng):
    env = simpy.Environment()
    count = [0]

    def job(env):
        expovariate = rng.expovariate
        timeout = env.timeout
        while True:
            yield timeout(expovariate(1.0))
            count[0] += 1
            if count[0] >= events:
                raise Stop()

    for _ in range(pending):
        env.process(job(env))
    t0 = time.perf_counter()
    try:
        env.run()
    except Stop:
        pass
    return count[0], time.perf_counter() - t0, simpy.__version__


def run_simpy2(events, pending, rng):
    import SimPy
    from SimPy.Simulation import Process, hold, initialize, activate, simulate, stopSimulation

    count = [0]

    class Job(Process):
        def run(self):
            expovariate = rng.expovariate
            while True:
                yield hold, self, expovariate(1.0)
                count[0] += 1
                if count[0] >= events:
                    stopSimulation()

    initialize()
    for _ in range(pending):
        j = Job()
        activate(j, j.run())
    t0 = time.perf_counter()
    simulate(until=float("inf"))
    return count[0], time.perf_counter() - t0, getattr(SimPy, "__version__", "2")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--events", type=int, default=2_000_000)
    ap.add_argument("-p", "--pending", type=int, default=10_000)
    ap.add_argument("-s", "--seed", type=int, default=1)
    ap.add_argument("--api", choices=("auto", "3", "2"), default="auto",
                    help="which SimPy to use (auto: 3 if installed, else 2)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    simpy = None
    if args.api in ("auto", "3"):
        try:
            import simpy
        except ImportError:
            if args.api == "3":
                sys.exit("hold_simpy: SimPy 3 (python3-simpy3) is not installed")
    # The clock starts once the processes exist, as bench_hold's starts once the events are scheduled.
    if simpy is not None:
        done, seconds, version = run_simpy3(simpy, args.events, args.pending, rng)
    else:
        try:
            done, seconds, version = run_simpy2(args.events, args.pending, rng)
        except ImportError:
            sys.exit("hold_simpy: neither SimPy 3 (python3-simpy3) nor SimPy 2 (python3-simpy) is installed")
    print("simpy %s: %d events in %.3f s: %.0f events/s" % (version, done, seconds, done / seconds))


if __name__ == "__main__":
    main()
