"""Run many command lines of nri, each in its own forked process, from one interpreter.

Importing torch, Lightning and Hydra takes seconds per process; this script imports them once
and forks a child per command, so every case still is a process of its own (its own exit
status, stdout, stderr and working folder) at a fraction of the cost. Reads a JSON list of jobs
``{"command", "args", "cwd", "stdout", "stderr"}`` on stdin; writes their exit codes as a JSON list.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
import warnings

import nri.eval  # noqa: F401  (imported once, before the forks)
import nri.generate  # noqa: F401
import nri.infer  # noqa: F401
import nri.train  # noqa: F401


def child(job: dict) -> int:
    os.chdir(job["cwd"])
    for fd, name in ((1, job["stdout"]), (2, job["stderr"])):
        os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    sys.argv = [f"nri.{job['command']}", *job["args"]]
    # runpy's note that the module was imported before (on purpose, see above)
    warnings.filterwarnings("ignore", message=".*found in sys.modules", category=RuntimeWarning)
    try:
        runpy.run_module(f"nri.{job['command']}", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def main() -> None:
    jobs = json.load(sys.stdin)
    workers = int(os.environ.get("RELIABILITY_WORKERS", "2"))
    codes: list[int | None] = [None] * len(jobs)
    running: dict[int, int] = {}
    pending = list(range(len(jobs)))
    while pending or running:
        while pending and len(running) < workers:
            index = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                os._exit(child(jobs[index]))
            running[pid] = index
        pid, status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    json.dump(codes, sys.stdout)


if __name__ == "__main__":
    main()
