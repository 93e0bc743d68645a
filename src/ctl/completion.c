/*
 * `minictl completion bash`: prints a bash completion script. It completes
 * verbs (read once from `minictl --help`, so the dispatcher's table stays
 * the one list), each verb's flags (from `minictl VERB --help`), kinds (from
 * the kinds registry, written into the script) and object names (by running
 * `minictl get KIND -o name` with the --kubeconfig, --context and -n typed
 * so far). Load it with `source <(minictl completion bash)`.
 */
#include "apiserver/kinds.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: minictl completion bash\n\n"
	"Prints a bash completion script for minictl (and `minik8s ctl`). Load it with\n"
	"    source <(minictl completion bash)\n"
	"or save it as /etc/bash_completion.d/minictl.\n";

/* The script's fixed part. %KINDS% is replaced by the registry's names. */
static const char script[] =
	"# bash completion for minictl, written by `minictl completion bash`.\n"
	"# Load it with: source <(minictl completion bash)\n"
	"\n"
	"__minictl_kinds='%KINDS%'\n"
	"__minictl_verbs=''\n"
	"declare -gA __minictl_flag_cache 2>/dev/null\n"
	"\n"
	"# Runs minictl (or `minik8s ctl`) with the connection flags typed so far.\n"
	"__minictl_run() {\n"
	"    \"${__minictl_cmd[@]}\" \"$@\" \"${__minictl_conn[@]}\" 2>/dev/null\n"
	"}\n"
	"\n"
	"# The flags a verb takes, one per line, as \"--name\" or \"--name=\" (takes a value).\n"
	"__minictl_flags() {\n"
	"    local verb=\"$1\" key=\"${1:-_}\"\n"
	"    if [[ -z \"${__minictl_flag_cache[$key]}\" ]]; then\n"
	"        __minictl_flag_cache[$key]=$(\"${__minictl_cmd[@]}\" $verb --help 2>/dev/null |\n"
	"            sed -n -e 's/^  \\(-\\{1,2\\}[A-Za-z][-A-Za-z0-9]*\\) \\(VALUE\\|N\\|DURATION\\) .*/\\1=/p' \\\n"
	"                   -e 's/^  \\(-\\{1,2\\}[A-Za-z][-A-Za-z0-9]*\\)  .*/\\1/p')\n"
	"    fi\n"
	"    printf '%s\\n' \"${__minictl_flag_cache[$key]}\"\n"
	"}\n"
	"\n"
	"# Whether flag (\"-n\", \"--tail\") takes a value for this verb.\n"
	"__minictl_takes_value() {\n"
	"    local f\n"
	"    case \"$2\" in\n"
	"        -n|--namespace|--kubeconfig|--context|-s|--server|--token|-o|--output|-l|--selector) return 0;;\n"
	"        --*=*|-?=*) return 1;;\n"
	"    esac\n"
	"    while read -r f; do\n"
	"        [[ \"$f\" == \"$2=\" || \"$f\" == \"-$2=\" ]] && return 0\n"
	"    done < <(__minictl_flags \"$1\")\n"
	"    return 1\n"
	"}\n"
	"\n"
	"# Names of objects of kind $1, without the \"kind/\" prefix.\n"
	"__minictl_names() {\n"
	"    local line\n"
	"    while read -r line; do\n"
	"        [[ -n \"$line\" ]] && printf '%s\\n' \"${line#*/}\"\n"
	"    done < <(__minictl_run get \"$1\" -o name)\n"
	"}\n"
	"\n"
	"# Completes cur as a kind, \"KIND/NAME\", or (with kind given) a name.\n"
	"__minictl_complete_objects() {\n"
	"    local kind=\"$1\" cur=\"$2\" kinds=\"${3:-$__minictl_kinds}\"\n"
	"    if [[ -n \"$kind\" ]]; then\n"
	"        COMPREPLY=($(compgen -W \"$(__minictl_names \"$kind\")\" -- \"$cur\"))\n"
	"    elif [[ \"$cur\" == */* ]]; then\n"
	"        COMPREPLY=($(compgen -P \"${cur%%/*}/\" -W \"$(__minictl_names \"${cur%%/*}\")\" -- \"${cur#*/}\"))\n"
	"    else\n"
	"        COMPREPLY=($(compgen -W \"$kinds\" -- \"$cur\"))\n"
	"    fi\n"
	"}\n"
	"\n"
	"_minictl() {\n"
	"    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" first=1 i w verb=\"\"\n"
	"    local -a pos=()\n"
	"    __minictl_cmd=(\"${COMP_WORDS[0]}\")\n"
	"    __minictl_conn=()\n"
	"    COMPREPLY=()\n"
	"    if [[ \"${COMP_WORDS[0]##*/}\" == minik8s ]]; then\n"
	"        if (( COMP_CWORD == 1 )); then\n"
	"            COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" --help 2>/dev/null | sed -n 's/^  \\([a-z][-a-z]*\\) .*/\\1/p')\" -- \"$cur\"))\n"
	"            return 0\n"
	"        fi\n"
	"        [[ \"${COMP_WORDS[1]}\" == ctl ]] || return 0\n"
	"        __minictl_cmd+=(ctl)\n"
	"        first=2\n"
	"    fi\n"
	"    (( COMP_CWORD > first )) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
	"    for (( i = first; i < COMP_CWORD; i++ )); do\n"
	"        w=\"${COMP_WORDS[i]}\"\n"
	"        case \"$w\" in\n"
	"            --kubeconfig|--context|-n|--namespace|-s|--server|--token)\n"
	"                __minictl_conn+=(\"$w\" \"${COMP_WORDS[i+1]}\"); (( i++ )); continue;;\n"
	"            --kubeconfig=*|--context=*|--namespace=*|--server=*|--token=*)\n"
	"                __minictl_conn+=(\"$w\"); continue;;\n"
	"            -A|--all-namespaces) __minictl_conn+=(\"$w\"); continue;;\n"
	"        esac\n"
	"        if [[ \"$w\" == -* ]]; then\n"
	"            __minictl_takes_value \"$verb\" \"$w\" && (( i++ ))\n"
	"        elif [[ -z \"$verb\" ]]; then\n"
	"            verb=\"$w\"\n"
	"        else\n"
	"            pos+=(\"$w\")\n"
	"        fi\n"
	"    done\n"
	"\n"
	"    # The value of a flag.\n"
	"    case \"$prev\" in\n"
	"        -n|--namespace) COMPREPLY=($(compgen -W \"$(__minictl_names namespaces)\" -- \"$cur\")); return 0;;\n"
	"        --context) COMPREPLY=($(compgen -W \"$(__minictl_run config get-contexts -o name)\" -- \"$cur\")); return 0;;\n"
	"        -o|--output) COMPREPLY=($(compgen -W \"json yaml name wide\" -- \"$cur\")); return 0;;\n"
	"        --kubeconfig|-f|--filename)\n"
	"            if [[ \"$prev\" != -f || \"$verb\" != logs ]]; then\n"
	"                COMPREPLY=($(compgen -f -- \"$cur\")); return 0\n"
	"            fi;;\n"
	"    esac\n"
	"    if [[ \"$prev\" == -* ]] && __minictl_takes_value \"$verb\" \"$prev\"; then\n"
	"        return 0\n"
	"    fi\n"
	"\n"
	"    if [[ \"$cur\" == -* ]]; then\n"
	"        COMPREPLY=($(compgen -W \"$(__minictl_flags \"$verb\" | sed 's/=$//')\" -- \"$cur\"))\n"
	"        return 0\n"
	"    fi\n"
	"    if [[ -z \"$verb\" ]]; then\n"
	"        if [[ -z \"$__minictl_verbs\" ]]; then\n"
	"            __minictl_verbs=$(\"${__minictl_cmd[@]}\" --help 2>/dev/null | sed -n 's/^  \\([a-z][-a-z]*\\) .*/\\1/p')\n"
	"        fi\n"
	"        COMPREPLY=($(compgen -W \"$__minictl_verbs\" -- \"$cur\"))\n"
	"        return 0\n"
	"    fi\n"
	"    case \"$verb\" in\n"
	"        get|describe|delete|edit)\n"
	"            if (( ${#pos[@]} == 0 )); then __minictl_complete_objects \"\" \"$cur\"\n"
	"            elif [[ \"${pos[0]}\" != */* ]]; then __minictl_complete_objects \"${pos[0]%%,*}\" \"$cur\"\n"
	"            else __minictl_complete_objects \"\" \"$cur\"; fi;;\n"
	"        scale)\n"
	"            if (( ${#pos[@]} == 0 )); then __minictl_complete_objects \"\" \"$cur\" \"deployments deployment deploy replicasets replicaset rs\"\n"
	"            elif [[ \"${pos[0]}\" != */* ]]; then __minictl_complete_objects \"${pos[0]}\" \"$cur\"; fi;;\n"
	"        rollout)\n"
	"            if (( ${#pos[@]} == 0 )); then COMPREPLY=($(compgen -W \"status history undo restart pause resume\" -- \"$cur\"))\n"
	"            elif (( ${#pos[@]} == 1 )); then __minictl_complete_objects \"\" \"$cur\" \"deployments deployment deploy\"\n"
	"            elif [[ \"${pos[1]}\" != */* ]]; then __minictl_complete_objects \"${pos[1]}\" \"$cur\"; fi;;\n"
	"        logs)\n"
	"            (( ${#pos[@]} == 0 )) && __minictl_complete_objects pods \"$cur\";;\n"
	"        cordon|uncordon|drain)\n"
	"            __minictl_complete_objects nodes \"$cur\";;\n"
	"        config)\n"
	"            if (( ${#pos[@]} == 0 )); then COMPREPLY=($(compgen -W \"view current-context use-context get-contexts\" -- \"$cur\"))\n"
	"            elif [[ \"${pos[0]}\" == use-context || \"${pos[0]}\" == get-contexts ]] && (( ${#pos[@]} == 1 )); then\n"
	"                COMPREPLY=($(compgen -W \"$(__minictl_run config get-contexts -o name)\" -- \"$cur\"))\n"
	"            fi;;\n"
	"        completion)\n"
	"            (( ${#pos[@]} == 0 )) && COMPREPLY=($(compgen -W \"bash\" -- \"$cur\"));;\n"
	"    esac\n"
	"    return 0\n"
	"}\n"
	"\n"
	"complete -o default -F _minictl minictl\n"
	"complete -o default -F _minictl minik8s\n";

/* Every name a user may type for a kind: plural, singular, short names,
 * and "plural.group" for the named groups. */
static void add_kind_names(struct strbuf *sb)
{
	for (int i = 0; kinds[i]; i++) {
		const struct kind *k = kinds[i];

		strbuf_addf(sb, "%s%s", sb->len ? " " : "", k->plural);
		if (strcmp(k->singular, k->plural))
			strbuf_addf(sb, " %s", k->singular);
		for (const char *const *s = k->short_names; s && *s; s++)
			strbuf_addf(sb, " %s", *s);
		if (k->group[0])
			strbuf_addf(sb, " %s.%s", k->plural, k->group);
	}
}

int ctl_completion(struct ctl *c, int argc, char **argv)
{
	const struct flag none[] = { { NULL, 0, NULL, NULL } };
	const struct flag *const tables[] = { ctl_global_flags(c), none, NULL };
	const char *mark;
	struct strbuf names;
	int n = flags_parse(tables, usage, argc, argv);

	if (n < 0)
		return 1;
	if (n != 1) {
		fprintf(stderr, "error: %s\nSee 'minictl completion -h' for help\n",
			n == 0 ? "Shell not specified." : "Too many arguments. Expected only the shell type.");
		return 1;
	}
	if (strcmp(argv[1], "bash")) {
		fprintf(stderr, "error: Unsupported shell type \"%s\": minictl completes bash only\n", argv[1]);
		return 1;
	}
	strbuf_init(&names, 512);
	add_kind_names(&names);
	mark = strstr(script, "%KINDS%");
	fwrite(script, 1, (size_t)(mark - script), stdout);
	fputs(names.buf, stdout);
	fputs(mark + strlen("%KINDS%"), stdout);
	strbuf_release(&names);
	return 0;
}
