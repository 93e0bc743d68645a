/*
 * Entry points of the commands in src/main.c's table. Each gets argv with
 * argv[0] set to the command's own name and returns the process exit code.
 */
#ifndef MINIK8S_COMMANDS_H
#define MINIK8S_COMMANDS_H

#define MINIK8S_KUBE_VERSION "v1.32.0"

int cmd_server(int argc, char **argv);
int cmd_apiserver(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
