/* base/reaper.h: hands the last reference of slow-to-close fds to a helper process. */
#ifndef KITE_BASE_REAPER_H
#define KITE_BASE_REAPER_H

/* argv[1] of the helper: kite re-executes itself with it. */
#define REAPER_COMMAND "__release-fds"
#define REAPER_MAX_FDS 4

/*
 * Closing the last reference to a KVM VM waits for the kernel's teardown
 * (SRCU grace periods: ~15-20 ms on our hosts), which would otherwise delay
 * kite's exit. This spawns a helper that holds duplicates of fds until the
 * caller has closed its own and then exits, so the teardown runs in the helper.
 * The caller's fds are closed by this call either way; on any failure they are
 * closed synchronously. Returns 0 or a negative errno (nothing to undo).
 */
int reaper_close_detached(const int *fds, unsigned n);

/* main() of the helper: waits for the parent to let go, then exits. */
int reaper_main(void);

#endif
