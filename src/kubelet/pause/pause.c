/*
 * pause: the one process of a pod's sandbox container. It holds the pod's
 * network (and IPC) namespace for the app containers that join it, does
 * nothing else, reaps any zombie that ends up with it as parent (it is PID 1
 * of its namespace), and exits at once on SIGTERM or SIGINT so that a
 * sandbox stops without waiting for a grace period.
 *
 * Built static and without sanitizers (src/kubelet/meson.build), embedded
 * into the minik8s binary, and imported by the kubelet as minik8s/pause:1.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;)
		pause();
	return 42;
}
