// sig.h: SIGINT / SIGTERM handling.
//
// Two policies, chosen once at start-up:
// - sig_install_exit(): short tools (pack, tokenize). The handler removes every pending atomic output
//   and exits at once with 130 (SIGINT) or 143 (SIGTERM). Nothing half-written survives.
// - sig_install_flag(): long jobs (train, fetch). The handler only records the signal; the job polls
//   sig_pending() at a safe point (a step boundary), saves its state, and exits with sig_exit_code().
//   A second signal while the first is being handled exits at once (a user pressing ^C twice), except within a
//   second of the first (timeout(1) and schedulers signal the process, then its process group).
#ifndef SCOUT_SIG_H
#define SCOUT_SIG_H

void sig_install_exit(void);
void sig_install_flag(void);
int sig_pending(void);          // 0, SIGINT or SIGTERM
int sig_exit_code(int signum);  // 130 for SIGINT, 143 for SIGTERM

#endif
