/* SPDX-License-Identifier: MIT */
#ifndef HSMT_SUPERVISOR_H
#define HSMT_SUPERVISOR_H
/*
 * The supervisor: hsm-tracker's main process. It holds both fanotify groups
 * (made by tracker_setup) and forks the worker that serves them. The kernel
 * lets every pending permission event through when the last holder of the
 * group closes it; while the supervisor lives, a crashed worker therefore
 * costs no unrecorded write:
 *   - events the dead worker had read and not answered are answered here, by
 *     trying every fd number below the worker's RLIMIT_NOFILE: EIO in
 *     fail-closed mode, allow in fail-open mode (the next worker's
 *     unclean-stop marker covers them);
 *   - events it had not read stay queued (writers wait) for the next worker,
 *     which flushes the dead one's ignore marks and runs recovery first.
 * It forwards SIGTERM/SIGINT (and SIGUSR1/SIGHUP), restarts a crashed worker
 * with a back-off (5 restarts in 60 s: it gives up, exit 1), pings the
 * systemd watchdog and kills a worker whose timer stopped ticking for
 * WatchdogSec. docs/TRACKER.md, "Supervisor", has the window that remains.
 *
 * Calling sequence (main.c):
 *   tracker_setup(&o, &t);
 *   return supervisor_run(t);   // the process exit status; frees t
 */
struct tracker;

int supervisor_run(struct tracker *t);

#endif
