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
int cmd_controller_manager(int argc, char **argv);
int cmd_scheduler(int argc, char **argv);
int cmd_kubelet(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_hollow_node(int argc, char **argv);
int cmd_agent(int argc, char **argv);

/* The components `minik8s server` runs beside the apiserver (each defined
 * in its own directory; see src/core/component.h). */
struct component;
extern const struct component controller_manager_component;
extern const struct component scheduler_component;
extern const struct component hollow_node_component;
extern const struct component kubelet_component;
extern const struct component proxy_component;
extern const struct component agent_component;

#endif
