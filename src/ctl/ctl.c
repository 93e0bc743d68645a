/* placeholder: minictl is being written */
#include <stdio.h>
int cmd_ctl(int argc, char **argv);
int cmd_ctl(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "minictl: not built yet\n"); return 1; }
