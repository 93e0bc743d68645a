/*
 * A pod's files on the node, under <root-dir>/pods/<uid>/ in Kubernetes'
 * layout: resolv.conf and etc-hosts (bind-mounted into every container),
 * volumes (emptyDir directories, possibly on tmpfs; configMap and secret
 * keys written as files; hostPath checked or created), and one
 * termination-message file per container instance. Removed with the pod.
 */
#include "kubelet/internal.h"
#include "kubelet/podconfig.h"
#include "client/kubeconfig.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* Writes path only when its content differs, so unchanged files keep their
 * inode (a process inside may hold them open). */
static int write_if_changed(const char *path, const void *data, size_t len, unsigned mode)
{
	char *old = NULL;
	size_t old_len = 0;
	int rc;

	if (read_file(path, &old, &old_len) == 0 && old_len == len && !memcmp(old, data, len)) {
		free(old);
		chmod(path, mode);
		return 0;
	}
	free(old);
	rc = write_file_atomic(path, data, len, mode);
	if (rc == 0)
		chmod(path, mode);
	return rc;
}

int podfiles_write_dns(struct kubelet *k, struct kpod *p, const json_t *pod, char **err)
{
	struct podconfig_dns_input dns = { pod, k->cfg.cluster_dns, k->cfg.cluster_domain, k->host_resolv };
	char *text = podconfig_resolv_conf(&dns), *path;
	int rc;

	path = xasprintf("%s/resolv.conf", p->dir);
	rc = write_if_changed(path, text, strlen(text), 0644);
	if (rc < 0)
		*err = xasprintf("cannot write '%s': %s", path, strerror(-rc));
	free(path);
	free(text);
	return rc < 0 ? -1 : 0;
}

int podfiles_write_hosts(struct kubelet *k, struct kpod *p, const json_t *pod, const char *ip)
{
	char *text = podconfig_hosts(pod, ip, k->cfg.cluster_domain, k->host_hosts);
	char *path = xasprintf("%s/etc-hosts", p->dir);
	int rc = write_if_changed(path, text, strlen(text), 0644);

	if (rc < 0)
		log_warn("kubelet cannot write '%s': %s", path, strerror(-rc));
	else {
		free(p->hosts_ip);
		p->hosts_ip = xstrdup(ip ? ip : "");
	}
	free(path);
	free(text);
	return rc;
}

/* The key -> (file, mode) projection of a configMap or secret volume. */
static int project(const json_t *src, bool secret, const json_t *vsrc, const char *dir, char **err)
{
	json_t *items = obj_get(vsrc, "items"), *data = json_object_get(src, "data"), *it;
	json_t *bin = secret ? NULL : json_object_get(src, "binaryData");
	json_t *written = json_object();
	unsigned def_mode = (unsigned)obj_int(vsrc, "defaultMode", 0644);
	const char *key;
	json_t *val;
	size_t i;
	int rc = 0;

	/* Every key, or just the listed ones. */
	json_t *want = json_array();
	if (json_array_size(items)) {
		json_array_foreach(items, i, it)
			json_array_append(want, it);
	} else {
		json_object_foreach(data, key, val)
			json_array_append_new(want, json_pack("{s:s, s:s}", "key", key, "path", key));
		json_object_foreach(bin, key, val)
			json_array_append_new(want, json_pack("{s:s, s:s}", "key", key, "path", key));
	}
	json_array_foreach(want, i, it) {
		const char *k = obj_str(it, "key") ?: "", *rel = obj_str(it, "path") ?: k;
		const char *v = key_str(data, k);
		bool b64 = secret;
		char *bytes = NULL, *path, *slash;
		size_t len = 0;
		unsigned mode = (unsigned)obj_int(it, "mode", def_mode);

		if (!v && bin) {
			v = key_str(bin, k);
			b64 = true;
		}
		if (!v) {
			if (obj_bool(vsrc, "optional", false))
				continue;
			*err = xasprintf("configmap references non-existent config key: %s", k);
			rc = -1;
			break;
		}
		if (!*rel || rel[0] == '/' || strstr(rel, "..")) {
			*err = xasprintf("invalid path \"%s\" for key %s", rel, k);
			rc = -1;
			break;
		}
		if (b64) {
			if (kubeconfig_base64_decode(v, strlen(v), &bytes, &len) < 0) {
				*err = xasprintf("key %s is not valid base64", k);
				rc = -1;
				break;
			}
		} else {
			bytes = xstrdup(v);
			len = strlen(v);
		}
		path = xasprintf("%s/%s", dir, rel);
		slash = strrchr(path, '/');
		*slash = '\0';
		mkdir_p(path, 0755);
		*slash = '/';
		if (write_if_changed(path, bytes, len, mode & 0777) < 0) {
			*err = xasprintf("cannot write '%s': %s", path, strerror(errno));
			rc = -1;
		}
		json_object_set_new(written, rel, json_true());
		free(path);
		free(bytes);
		if (rc < 0)
			break;
	}
	/* Keys that went away go from the directory too (top level only). */
	if (rc == 0) {
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || json_object_get(written, de->d_name))
				continue;
			if (de->d_type == DT_REG) {
				char *path = xasprintf("%s/%s", dir, de->d_name);
				unlink(path);
				free(path);
			}
		}
		if (d)
			closedir(d);
	}
	json_decref(want);
	json_decref(written);
	return rc;
}

static int host_path_check(const json_t *hp, char **err)
{
	const char *path = obj_str(hp, "path") ?: "", *type = obj_str(hp, "type") ?: "";
	struct stat st;
	int have = stat(path, &st) == 0;

	if (!*path || path[0] != '/') {
		*err = xasprintf("hostPath \"%s\" must be an absolute path", path);
		return -1;
	}
	if (!strcmp(type, "DirectoryOrCreate")) {
		if (!have && mkdir_p(path, 0755) < 0) {
			*err = xasprintf("cannot create directory \"%s\": %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!strcmp(type, "FileOrCreate")) {
		if (!have) {
			int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0) {
				*err = xasprintf("cannot create file \"%s\": %s", path, strerror(errno));
				return -1;
			}
			close(fd);
		}
		return 0;
	}
	if (!*type)
		return 0;
	if (!have) {
		*err = xasprintf("hostPath type check failed: %s is not a %s (it does not exist)", path, type);
		return -1;
	}
	if ((!strcmp(type, "Directory") && !S_ISDIR(st.st_mode)) || (!strcmp(type, "File") && !S_ISREG(st.st_mode)) ||
	    (!strcmp(type, "Socket") && !S_ISSOCK(st.st_mode)) || (!strcmp(type, "CharDevice") && !S_ISCHR(st.st_mode)) ||
	    (!strcmp(type, "BlockDevice") && !S_ISBLK(st.st_mode))) {
		*err = xasprintf("hostPath type check failed: %s is not a %s", path, type);
		return -1;
	}
	return 0;
}

static void empty_dir_memory(const char *path, const json_t *ed)
{
	struct statfs sf;
	double limit = 0;
	char opts[64] = "mode=0777";

	if (statfs(path, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)TMPFS_MAGIC)
		return;
	if (obj_str(ed, "sizeLimit") && podconfig_quantity(obj_str(ed, "sizeLimit"), &limit) == 0 && limit > 0)
		snprintf(opts, sizeof(opts), "mode=0777,size=%llu", (unsigned long long)limit);
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		log_warn("kubelet cannot mount tmpfs for emptyDir '%s': %s; using the disk", path, strerror(errno));
}

int podfiles_volumes(struct kubelet *k, struct kpod *p, const json_t *pod, char **err)
{
	const char *ns = obj_namespace(pod) ?: "default";
	json_t *v;
	size_t i;

	json_array_foreach(obj_get(pod, "spec.volumes"), i, v) {
		const char *name = obj_str(v, "name") ?: "";
		char *path = podconfig_volume_path(p->dir, v), *why = NULL;
		json_t *src;
		int rc = 0;

		if (!path) {
			*err = xasprintf("MountVolume.SetUp failed for volume \"%s\" : only emptyDir, hostPath, configMap "
					 "and secret volumes are supported", name);
			return -1;
		}
		if ((src = obj_get(v, "hostPath"))) {
			rc = host_path_check(src, &why);
		} else if ((src = obj_get(v, "emptyDir"))) {
			rc = mkdir_p(path, 0777);
			chmod(path, 0777);
			if (rc == 0 && !strcmp(obj_str(src, "medium") ?: "", "Memory"))
				empty_dir_memory(path, src);
			if (rc < 0)
				why = xasprintf("cannot create '%s': %s", path, strerror(-rc));
		} else if ((src = obj_get(v, "configMap")) || (src = obj_get(v, "secret"))) {
			bool secret = obj_get(v, "secret") != NULL;
			const char *oname = secret ? obj_str(src, "secretName") : obj_str(src, "name");
			const json_t *obj = kubelet_lookup(secret ? "secrets" : "configmaps", ns, oname ?: "", k);
			mkdir_p(path, 0755);
			if (!obj) {
				if (!obj_bool(src, "optional", false)) {
					why = xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap", oname ?: "");
					rc = -1;
				}
			} else {
				rc = project(obj, secret, src, path, &why);
			}
		}
		free(path);
		if (rc < 0) {
			*err = xasprintf("MountVolume.SetUp failed for volume \"%s\" : %s", name, why ? why : "error");
			free(why);
			return -1;
		}
		free(why);
	}
	return 0;
}

int podfiles_prepare(struct kubelet *k, struct kpod *p, const json_t *pod, char **err)
{
	int rc = mkdir_p(p->dir, 0755);

	*err = NULL;
	if (rc < 0) {
		*err = xasprintf("cannot create '%s': %s", p->dir, strerror(-rc));
		return -1;
	}
	if (podfiles_write_dns(k, p, pod, err) < 0)
		return -1;
	if (!p->hosts_ip)
		podfiles_write_hosts(k, p, pod, NULL);
	return podfiles_volumes(k, p, pod, err);
}

char *podfiles_termination(struct kpod *p, const char *container, int attempt)
{
	char *dir = xasprintf("%s/containers/%s", p->dir, container), *path;
	int fd;

	mkdir_p(dir, 0755);
	path = xasprintf("%s/%d", dir, attempt);
	free(dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0666);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	fchmod(fd, 0666);
	close(fd);
	return path;
}

char *podfiles_read_message(const char *path)
{
	char *text = NULL;
	size_t len = 0;

	if (!path || read_file(path, &text, &len) < 0)
		return NULL;
	/* Kubernetes keeps at most 4 KiB of it. */
	if (len > 4096)
		text[4096] = '\0';
	return text;
}

static int unlink_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void podfiles_remove(struct kpod *p)
{
	char *ed = xasprintf("%s/volumes/" PODCONFIG_EMPTYDIR, p->dir);
	DIR *d = opendir(ed);
	struct dirent *de;

	/* tmpfs emptyDirs first, or the walk would empty them and fail on the mount point. */
	while (d && (de = readdir(d))) {
		char *path;
		struct statfs sf;
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", ed, de->d_name);
		if (statfs(path, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)TMPFS_MAGIC)
			umount2(path, MNT_DETACH);
		free(path);
	}
	if (d)
		closedir(d);
	free(ed);
	nftw(p->dir, unlink_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
