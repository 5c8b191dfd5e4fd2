// exitcode.h: the exit codes every SCOUT tool uses (DESIGN.md, Tools).
#ifndef SCOUT_EXITCODE_H
#define SCOUT_EXITCODE_H

enum scout_exit {
    SCOUT_EXIT_OK = 0,        // success
    SCOUT_EXIT_FAIL = 1,      // any other failure (a bug, an impossible state, out of memory)
    SCOUT_EXIT_USAGE = 2,     // bad command line
    SCOUT_EXIT_DATA = 3,      // bad input data: wrong magic, truncated, out-of-range token, malformed JSON
    SCOUT_EXIT_IO = 4,        // I/O or network failure: cannot open, read, write, rename
    SCOUT_EXIT_SIGINT = 130,  // interrupted by SIGINT (128 + 2)
    SCOUT_EXIT_SIGTERM = 143, // interrupted by SIGTERM (128 + 15)
};

#endif
