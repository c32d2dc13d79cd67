#!/usr/bin/env bash
# The shell completion (scripts/gen-completion.py, built by make into
# $B/completion/): generated from the command table that --help prints,
# valid bash and zsh, and offering what --help lists: every command,
# every subcommand of a usage line, options and their values, and the
# keys of `set config`.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
IXDP=$TOP/$B/ipsec-xdp
BASHC=$TOP/$B/completion/ipsec-xdp.bash
ZSHC=$TOP/$B/completion/_ipsec-xdp
. "$TOP/tests/pkg/lib.sh"

[ -f "$BASHC" ] && [ -f "$ZSHC" ] || { echo "build first: make completion"; exit 1; }
check "the bash completion is valid bash" bash -n "$BASHC"
if command -v zsh >/dev/null; then
	check "the zsh completion is valid zsh" zsh -n "$ZSHC"
else
	fail "zsh is not installed (scripts/install-deps.sh installs it)"
fi

# offers WORDS... -- EXPECTED...: bash completes the command line WORDS
# (the last one being completed) with at least EXPECTED.
offers() {
	local words=() want=() seen=0
	while [ "$1" != -- ]; do words+=("$1"); shift; done
	shift
	want=("$@")
	local got
	got=$(bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_ipsec_xdp; printf "%s\n" "${COMPREPLY[@]}"' _ "$BASHC" ipsec-xdp "${words[@]}")
	for w in "${want[@]}"; do
		grep -qxF -- "$w" <<<"$got" || { echo "# '${words[*]}' lacks '$w': $(echo $got)"; return 1; }
	done
}

# Every command --help lists, and every subcommand of its usage line.
mapfile -t USAGES < <("$IXDP" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  //p')
check "--help lists commands" test "${#USAGES[@]}" -ge 8
CMDS=()
for u in "${USAGES[@]}"; do CMDS+=("${u%% *}"); done
check "every command of --help is offered (${CMDS[*]})" offers "" -- "${CMDS[@]}"
check "a prefix narrows the offer" bash -c "$(declare -f offers); BASHC=$BASHC; ! offers po -- load"
for u in "${USAGES[@]}"; do
	cmd=${u%% *}
	rest=${u#"$cmd"}
	subs=$(awk -F' [|] ' '{ for (i = 1; i <= NF; i++) { split($i, w, " ");
		if (w[1] ~ /^[a-z][a-z-]*$/) print w[1] } }' <<<"${rest# }" | sort -u)
	[ -n "$subs" ] || continue
	check "'$cmd' offers its subcommands: $(echo $subs)" offers "$cmd" "" -- $subs
done
# zsh_offers WORDS... -- EXPECTED...: the same through the zsh function
# (compadd and _files stand-ins print what would be offered).
zsh_offers() {
	local words=() got w
	while [ "$1" != -- ]; do words+=("$1"); shift; done
	shift
	got=$(zsh -c 'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
		_files() { print FILES; }
		f=$1; shift; words=(ipsec-xdp "$@"); CURRENT=$#words
		source $f' _ "$ZSHC" "${words[@]}")
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || { echo "# zsh: '${words[*]}' lacks '$w': $(echo $got)"; return 1; }
	done
}
if command -v zsh >/dev/null; then
	check "zsh offers every command" zsh_offers "" -- "${CMDS[@]}"
	check "zsh: policy's subcommands" zsh_offers policy "" -- check apply show unassign
	check "zsh: set config's keys" zsh_offers set config "" -- bootmode ipsecexempt
	check "zsh: --xdp-mode's values" zsh_offers load --xdp-mode "" -- auto native generic
	check "zsh: policy apply FILE" zsh_offers policy apply "" -- FILES
fi
check "zsh's file names every command" bash -c 'for c in "$@"; do grep -q "\b$c\b" "'"$ZSHC"'" || exit 1; done' _ "${CMDS[@]}"

# Options, their values, keys and values of set config, arguments.
check "load's --xdp-mode is offered" offers load - -- --xdp-mode
check "load's --all (an alternative to IFACE...) is offered" offers load - -- --all
check "set config loadinterfaces' words" offers set config loadinterfaces "" -- none all
check "--xdp-mode's values" offers load --xdp-mode "" -- auto native generic
check "global options" offers - -- --json --help --version
check "show filters --specific" offers show filters - -- --specific
check "show stats --openmetrics" offers show stats - -- --openmetrics
check "set config's keys" offers set config "" -- bootmode bootexemptions ipsecexempt ikelogging strongcrlcheck
check "set config bootmode's values" offers set config bootmode "" -- permit block stateful
check "-j is skipped" offers -j policy "" -- check apply show unassign
check "load offers interfaces" offers load "" -- lo
D=$(mktemp -d /tmp/ixdp-compl.XXXXXX)
touch "$D/office.yaml"
check "policy apply offers files" offers policy apply "$D/off" -- "$D/office.yaml"
rm -rf "$D"
finish
