/* placeholder */
#include "commands.h"
int cmd_server(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cmd_apiserver(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cmd_token(int argc, char **argv) { (void)argc; (void)argv; return 1; }
