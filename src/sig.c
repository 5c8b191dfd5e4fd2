// sig.c: see sig.h.
#include "sig.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "exitcode.h"

static volatile sig_atomic_t g_pending = 0;

int sig_exit_code(int signum) { return signum == SIGINT ? SCOUT_EXIT_SIGINT : SCOUT_EXIT_SIGTERM; }

static void on_signal_exit(int signum) {
    atomic_abort_all();
    _exit(sig_exit_code(signum));
}

static void on_signal_flag(int signum) {
    if (g_pending) on_signal_exit(signum); // second signal: give up waiting for the safe point
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
