#!/usr/bin/env python3
# gen-completion.py IPSEC_XDP bash|zsh - the shell completion of ipsec-xdp,
# generated from the program's own command table: what `ipsec-xdp --help`
# and `ipsec-xdp COMMAND --help` print (ctl/ctl_main.c), so a command or
# option added there is completed without editing this file.
#
# The grammar read from a usage line (`NAME ALT | ALT ...`):
#   lowercase words      subcommands, one level under the other
#   [--opt a|b|c]        an option and its values; [--a|--b] two options
#   FILE                 a file name;  IFACE... / [IFACE...]  interfaces
#   IFACE...|--all       a bare option among the alternatives of a word
#   KEY                  the keys the command's help lists, one a line as
#                        "  key v1|v2|v3" (values in lowercase are offered)
# Other words in capitals (PEER, SRC, ...) are free text: nothing offered.
import re
import subprocess
import sys

ROOT = "."


def run(prog, *args):
    out = subprocess.run([prog, *args], capture_output=True, text=True,
                         check=True)
    return out.stdout


def command_usages(prog):
    """The usage lines under "Commands:" of --help."""
    lines = run(prog, "--help").splitlines()
    start = lines.index("Commands:") + 1
    usages = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        usages.append(line.strip())
    return usages


def global_options(prog):
    """-j, --json ... from the "Options:" section of --help."""
    opts = []
    lines = run(prog, "--help").splitlines()
    for line in lines[lines.index("Options:") + 1:]:
        if not line.startswith("  "):
            break
        opts += re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", line.split("  ")[1])
    return opts


def help_keys(prog, cmd):
    """{key: [values]} from the "  key v1|v2" lines of COMMAND --help."""
    keys = {}
    for line in run(prog, cmd, "--help").splitlines():
        m = re.match(r"^  ([a-z][a-z0-9-]*) (\S+)", line)
        if m:
            keys[m.group(1)] = [v for v in m.group(2).split("|")
                                if re.fullmatch(r"[a-z0-9][a-z0-9-]*", v)]
    return keys


class Table:
    def __init__(self):
        self.subs = {}   # path -> [words]
        self.opts = {}   # path -> [options]
        self.vals = {}   # "path opt" -> [values]
        self.args = {}   # path -> file | iface

    def add(self, d, key, items):
        lst = d.setdefault(key, [])
        for i in items:
            if i not in lst:
                lst.append(i)


def parse_alternative(prog, table, path, alt):
    words = alt.split()
    while words and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
        table.add(table.subs, path, [words[0]])
        path = path + "/" + words[0]
        words.pop(0)
    table.subs.setdefault(path, [])
    rest = " ".join(words)
    for group in re.findall(r"\[([^\]]*)\]", rest):
        parts = group.split()
        if parts and parts[0].startswith("--"):
            opts = parts[0].split("|")
            table.add(table.opts, path, opts)
            if len(parts) > 1 and len(opts) == 1:
                table.add(table.vals, path + " " + opts[0],
                          [v for v in parts[1].split("|") if v.islower()])
    bare = re.sub(r"\[[^\]]*\]", lambda m: m.group(0).strip("[]")
                  if "--" not in m.group(0) else "", rest).split()
    for w in bare:
        bare_opts = [p for p in w.split("|") if p.startswith("--")]
        if bare_opts:
            table.add(table.opts, path, bare_opts)
        if w == "FILE":
            table.args[path] = "file"
        elif w.startswith("IFACE"):
            table.args[path] = "iface"
        elif w == "KEY":
            for key, values in help_keys(prog, path.split("/")[1]).items():
                table.add(table.subs, path, [key])
                table.add(table.subs, path + "/" + key, values)


def build(prog):
    table = Table()
    table.add(table.opts, ROOT, global_options(prog))
    for usage in command_usages(prog):
        name, _, alts = usage.partition(" ")
        table.add(table.subs, ROOT, [name])
        table.subs.setdefault(ROOT + "/" + name, [])
        for alt in alts.split(" | ") if alts else [""]:
            parse_alternative(prog, table, ROOT + "/" + name, alt)
    return table


def assoc(name, d, shell):
    """An associative array: bash's ([key]=value ...), zsh's (key value ...)."""
    lines = [f"{name}=("]
    for k in sorted(d):
        v = d[k] if isinstance(d[k], str) else " ".join(d[k])
        lines.append(f"\t[{k!r}]={v!r}" if shell == "bash" else f"\t{k!r} {v!r}")
    lines.append(")")
    return "\n".join(lines)


def tables_text(table, shell):
    declare = "declare -gA" if shell == "bash" else "typeset -gA"
    return "\n".join([
        f"{declare} _ixdp_subs _ixdp_opts _ixdp_vals _ixdp_args",
        assoc("_ixdp_subs", table.subs, shell),
        assoc("_ixdp_opts", table.opts, shell),
        assoc("_ixdp_vals", table.vals, shell),
        assoc("_ixdp_args", table.args, shell),
    ])


HEADER = """\
# {shell} completion for ipsec-xdp, generated by scripts/gen-completion.py
# from the program's command table (`ipsec-xdp --help`): do not edit.
"""

# path: the words typed so far that are subcommands ("./policy/apply").
BASH = r"""
_ipsec_xdp() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local path=. w i
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[[ $w == -* ]] && continue
		[[ " ${_ixdp_subs[$path]} " == *" $w "* ]] && path=$path/$w
	done
	COMPREPLY=()
	if [[ -n ${_ixdp_vals["$path $prev"]+x} ]]; then
		COMPREPLY=($(compgen -W "${_ixdp_vals["$path $prev"]}" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "${_ixdp_opts[$path]} ${_ixdp_opts[.]}" -- "$cur"))
	elif [[ -n ${_ixdp_subs[$path]} && $prev != -* || $path == . ]]; then
		COMPREPLY=($(compgen -W "${_ixdp_subs[$path]}" -- "$cur"))
	elif [[ ${_ixdp_args[$path]} == file ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	elif [[ ${_ixdp_args[$path]} == iface ]]; then
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
	fi
}
complete -F _ipsec_xdp ipsec-xdp
"""

ZSH = r"""
_ipsec_xdp() {
	local path=. w i cur=${words[CURRENT]} prev=${words[CURRENT-1]}
	for ((i = 2; i < CURRENT; i++)); do
		w=${words[i]}
		[[ $w == -* ]] && continue
		(( ${${(s: :)_ixdp_subs[$path]}[(Ie)$w]} )) && path=$path/$w
	done
	if (( ${+_ixdp_vals[$path $prev]} )); then
		compadd -- ${(s: :)_ixdp_vals[$path $prev]}
	elif [[ $cur == -* ]]; then
		compadd -- ${(s: :)_ixdp_opts[$path]} ${(s: :)_ixdp_opts[.]}
	elif [[ -n ${_ixdp_subs[$path]} && $prev != -* || $path == . ]]; then
		compadd -- ${(s: :)_ixdp_subs[$path]}
	elif [[ ${_ixdp_args[$path]} == file ]]; then
		_files
	elif [[ ${_ixdp_args[$path]} == iface ]]; then
		compadd -- ${(f)"$(ls /sys/class/net 2>/dev/null)"}
	fi
}
"""


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("bash", "zsh"):
        sys.exit("usage: gen-completion.py IPSEC_XDP bash|zsh")
    table = build(sys.argv[1])
    if sys.argv[2] == "bash":
        print(HEADER.format(shell="bash") + "\n" +
              tables_text(table, "bash") + BASH, end="")
    else:
        print("#compdef ipsec-xdp\n" + HEADER.format(shell="zsh") + "\n" +
              tables_text(table, "zsh") + ZSH +
              '\n_ipsec_xdp "$@"\n', end="")


if __name__ == "__main__":
    main()
