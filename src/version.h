// version.h: one version string for every tool (`--version`).
#ifndef SCOUT_VERSION_H
#define SCOUT_VERSION_H
#define SCOUT_VERSION "0.1.0"
#endif
