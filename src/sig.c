// sig.c: see sig.h.
#include "sig.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "exitcode.h"

static volatile sig_atomic_t g_pending = 0;

int sig_exit_code(int signum) { return signum == SIGINT ? SCOUT_EXIT_SIGINT : SCOUT_EXIT_SIGTERM; }

static void on_signal_exit(int signum) {
    atomic_abort_all();
    _exit(sig_exit_code(signum));
}

static struct timespec g_first_at; // when the pending signal arrived (CLOCK_MONOTONIC)

// A second signal gives up waiting for the safe point (a user pressing Ctrl-C twice), unless it comes within a
// second of the first: GNU timeout, and job schedulers such as Slurm, signal the process and then its whole
// process group, so one stop request often arrives twice, and the second must not cost the checkpoint.
// clock_gettime is async-signal-safe (POSIX).
static void on_signal_flag(int signum) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (g_pending) {
        const double since = (double)(now.tv_sec - g_first_at.tv_sec) + 1e-9 * (double)(now.tv_nsec - g_first_at.tv_nsec);
        if (since >= 1.0) on_signal_exit(signum);
        return;
    }
    g_first_at = now;
    g_pending = signum;
}

static void install(void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    // A closed downstream pipe (`scout-pack | head -c 100`) must surface as EPIPE from write(),
    // reported as an I/O error with cleanup, not kill us silently mid-file.
    signal(SIGPIPE, SIG_IGN);
}

void sig_install_exit(void) { install(on_signal_exit); }
void sig_install_flag(void) { install(on_signal_flag); }
int sig_pending(void) { return g_pending; }
