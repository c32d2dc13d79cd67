#!/usr/bin/env bash
# The IKE load generator of the ike_setup benchmark (tests/bench/ike_load.c)
# against ipsec-xdpd, so that the benchmark tool cannot rot unseen: a few
# hundred childless IKE SAs from 8 source addresses, 4 at a time each, all
# completed (the responder's AUTH verified), all deleted, and the daemon's
# counters agree with the generator's; a wrong key completes nothing and
# both sides count the authentication failures; answers altered on the way
# are not counted as setups.
. "$(dirname "$0")/lib.sh"
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
IKE_LOAD=${IKE_LOAD:-$TOP/${B:-build}/bench/ike_load}
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
[ -x "$IKE_LOAD" ] || { echo "build first: $IKE_LOAD is missing"; exit 1; }
ns_setup
. "$TOP/tests/bench/ike_lib.sh"
trap 'rc=$?; ikeb_stop; (exit $rc); ns_teardown' EXIT

N=400
ikeb_addrs 8 || exit 1
ikeb_xdpd_conf "$T/x"
ikeb_xdpd_start "$T/x" || exit 1

stat_of() { ikeb_xdpd_ctl "$T/x" -j show ikestats | json_get "d['stats']['$1']"; }
field() { json_get "d['$2']" <<<"$1"; }

out=$(ikeb_load -a 8 -S 1 -c 4 -n $N)
check "the generator ran" test -n "$out"
check_eq "all $N setups completed" $N "$(field "$out" completed)"
check_eq "none failed" 0 "$(field "$out" failed)"
check_eq "all $N deleted, each Delete answered" $N "$(field "$out" deleted)"
check_eq "no stray or unverifiable answer" 0 "$(field "$out" stray)"
check_eq "32 in flight from 8 sources" "32 8" "$(field "$out" slots) $(field "$out" sources)"
check "a rate was measured" python3 -c "import sys; sys.exit(not float(sys.argv[1]) > 0)" \
	"$(field "$out" setups_per_s)"
check_eq "the daemon established $N" $N "$(stat_of ike_sas_established)"
check_eq "the daemon deleted $N" $N "$(stat_of ike_sas_deleted)"
check_eq "no half-open limit hit" 0 "$(stat_of drop_half_open_limit)"
check_eq "no IKE SA left on the daemon" 0 \
	"$(ikeb_xdpd_ctl "$T/x" -j show sa | json_get 'len(d["ike_sas"])')"
gen=$(stat_of dh_keys_generated)
shared=$(stat_of dh_keys_shared)
check_eq "every IKE_SA_INIT answer had a D-H key pair" $N $((gen + shared))
check "under load the responder shared its D-H value ($gen made, $shared shared)" \
	test "$shared" -gt "$gen"
check "the negotiations were childless" \
	grep -q 'established.*childless\|childless.*established' "$T/x/ipsec-xdpd.log"

# a wrong key: the responder refuses, the generator counts it, nothing completes
af0=$(stat_of authentication_failures)
out=$(ip netns exec "$NS_A" "$IKE_LOAD" -t 10.77.0.2 -k "not the bench key" \
	-s "$IKEB_SRC" -a 2 -c 2 -n 10)
check_eq "wrong key: nothing completed" 0 "$(field "$out" completed)"
check_eq "wrong key: 10 authentication failures counted" 10 "$(field "$out" auth_failed)"
check_eq "wrong key: the daemon counted 10" $((af0 + 10)) "$(stat_of authentication_failures)"
check_eq "wrong key: established count unchanged" $N "$(stat_of ike_sas_established)"

# answers that do not verify are not counted: B flips one encrypted byte of
# each IKE_AUTH response it sends (exchange type 35 at byte 18 of the IKE
# header; byte 40 is the first after the SK payload's IV)
nft_corrupt() {
	ip netns exec "$NS_B" nft -f - <<'NFT'
table ip ikeload_corrupt {
	chain out {
		type filter hook output priority 0;
		udp sport 500 @th,208,8 35 @th,320,8 set @th,320,8 ^ 0xff counter
	}
}
NFT
}
check "corrupting B's IKE_AUTH answers (nftables)" nft_corrupt
out=$(ikeb_load -a 2 -c 2 -n 4 -r 100)
check_eq "corrupted answers: nothing completed" 0 "$(field "$out" completed)"
check_eq "corrupted answers: 4 setups failed after retransmitting" "4 4" \
	"$(field "$out" failed) $(field "$out" timeouts)"
check "corrupted answers: they did reach the generator (counted stray)" \
	test "$(field "$out" stray)" -ge 4
ip netns exec "$NS_B" nft delete table ip ikeload_corrupt

finish
