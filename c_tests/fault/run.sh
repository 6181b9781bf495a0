#!/bin/bash
# make fault-test: three dcf_node processes, each in its own network namespace joined by a
# bridge in a fourth, with faults made by nftables rules inside the node namespaces.
#   run.sh <dcf_node> <fault_check> <work dir> [scenario...]
# Every scenario writes continuously on whichever node leads, checks that every acknowledged
# entry is on every node at the same index with the same bytes, and prints its availability
# figures. Exit status 0 only if every scenario's checks pass.
# ELECTION_TIMEOUT=3 in the environment runs them at 3 s instead of 1 s.
set -u
NODE_BIN=$1
CHECK_BIN=$2
WORK=$3
shift 3
SCENARIOS=${*:-"leader_isolated asymmetric_leader follower_isolated short_cuts loss loss_latency flapping kill_leader_while_cut"}
ELECTION_TIMEOUT=${ELECTION_TIMEOUT:-1} # seconds, passed to every node (the environment may set 3)
N=3
PORT=17001
TAG=dcff$$
BR=${TAG}br
FAILED=0
WINDOW=64 # writes in flight at the leader; 1 to measure commit latency

skip() {
    echo "fault-test skipped: $*"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
command -v nft >/dev/null || skip "nft (nftables) is not installed"
ip netns add "${TAG}probe" 2>/dev/null || skip "this machine does not allow network namespaces"
ip netns del "${TAG}probe"

ns() { echo "${TAG}n$1"; }
now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

cleanup() {
    for i in $(seq 1 $N); do
        [ -n "${PID[$i]:-}" ] && kill -9 "${PID[$i]}" 2>/dev/null
        ip netns del "$(ns "$i")" 2>/dev/null
    done
    ip netns del "$BR" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

setup_network() {
    ip netns add "$BR"
    ip -n "$BR" link add br0 type bridge
    ip -n "$BR" link set br0 up
    for i in $(seq 1 $N); do
        local n
        n=$(ns "$i")
        ip netns add "$n"
        ip link add eth0 netns "$n" type veth peer name p$i netns "$BR"
        ip -n "$BR" link set p$i master br0
        ip -n "$BR" link set p$i up
        ip -n "$n" link set lo up
        ip -n "$n" addr add 10.213.0.$i/24 dev eth0
        ip -n "$n" link set eth0 up
        ip netns exec "$n" nft -f - <<EOF
table inet fault {
    chain in { type filter hook input priority 0; policy accept; }
    chain out { type filter hook output priority 0; policy accept; }
}
EOF
    done
}

# Fault rules of node $1: heal, cut (nothing in or out), deaf (sends, receives nothing),
# loss P (P% of what arrives is dropped).
rule() {
    local n
    n=$(ns "$1")
    ip netns exec "$n" nft flush chain inet fault in
    ip netns exec "$n" nft flush chain inet fault out
    case $2 in
    heal) ;;
    cut)
        ip netns exec "$n" nft add rule inet fault in iifname eth0 drop
        ip netns exec "$n" nft add rule inet fault out oifname eth0 drop
        ;;
    deaf) ip netns exec "$n" nft add rule inet fault in iifname eth0 drop ;;
    loss) ip netns exec "$n" nft add rule inet fault in iifname eth0 numgen random mod 100 "<" "$3" drop ;;
    esac
}

heal_all() { for i in $(seq 1 $N); do rule "$i" heal; done; }

JSON="["
for i in $(seq 1 $N); do
    [ "$i" -gt 1 ] && JSON+=","
    role=FOLLOWER
    [ "$i" = 1 ] && role=LEADER
    JSON+="{\"stream_id\":1,\"node_id\":$i,\"ip\":\"10.213.0.$i\",\"port\":$PORT,\"role\":\"$role\"}"
done
JSON+="]"

dir() { echo "$ROOT/node$1"; }

start_node() {
    ip netns exec "$(ns "$1")" "$NODE_BIN" "$1" "$(dir "$1")" "$JSON" --write --trace \
        --timeout $ELECTION_TIMEOUT --window "$WINDOW" 2>>"$ROOT/stderr.log" &
    PID[$1]=$!
}

kill_node() {
    kill "-$2" "${PID[$1]}" 2>/dev/null
    wait "${PID[$1]}" 2>/dev/null
    PID[$1]=
}

# The node whose role file says LEADER (the first one found), or 0.
leader() {
    for i in $(seq 1 $N); do
        [ -n "${PID[$i]:-}" ] && grep -q LEADER "$(dir "$i")/role" 2>/dev/null && { echo "$i"; return; }
    done
    echo 0
}

wait_leader() {
    local end l
    end=$(($(date +%s) + 15))
    while [ "$(date +%s)" -lt "$end" ]; do
        l=$(leader)
        [ "$l" != 0 ] && [ "$l" != "${1:-0}" ] && { echo "$l"; return; }
        sleep 0.05
    done
    echo 0
}

last_index() { tail -n 1 "$(dir "$1")/applied.log" 2>/dev/null | cut -d' ' -f1; }

# Node $1 was cut off until $3 (wall seconds), when it had delivered index $2 and the
# leader index $4: prints when it delivered something new again and when it reached $4.
rejoin() {
    local end resumed=never cur
    end=$(($(date +%s) + 20))
    while [ "$(date +%s)" -lt "$end" ]; do
        cur=$(last_index "$1")
        [ "$resumed" = never ] && [ "${cur:-0}" -gt "$2" ] && resumed="$(ms_since "$3") ms"
        [ "${cur:-0}" -ge "$4" ] && { echo "carrying traffic after $resumed, caught up after $(ms_since "$3") ms"; return; }
        sleep 0.02
    done
    echo "carrying traffic after $resumed, not caught up after 20 s"
}

begin() {
    ROOT=$WORK/$1
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    echo "== $1: $2 (election timeout $ELECTION_TIMEOUT s)"
    heal_all
    for i in $(seq 1 $N); do start_node "$i"; done
    L=$(wait_leader)
    [ "$L" = 0 ] && echo "  no leader elected"
    T0=$(now)
    sleep 2
}

# All commits of every node in time order: "wall_ms index latency_us node".
commits() {
    for i in $(seq 1 $N); do
        awk -v n="$i" '{ print $0, n }' "$(dir "$i")/commits.log" 2>/dev/null
    done | sort -n -k1,1
}

# Availability figures of the window [$1, $3) with the fault from $1 to $2 (wall seconds),
# the leader at the fault being $4.
# The 99th percentile commit latency in ms of the commits between wall seconds $1 and $2.
p99_of() {
    awk -v a="$1" -v b="$2" '$1 >= a * 1000 && $1 < b * 1000 { print $3 }' |
        sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f", NR ? v[i] / 1000 : 0 }'
}

figures() {
    local all p99 p99b
    all=$(commits)
    p99=$(echo "$all" | p99_of "$1" "$2")
    p99b=$(echo "$all" | p99_of "$T0" "$1")
    echo "$all" | awk -v t0="$T0" -v f="$1" -v h="$2" -v e="$3" -v old="$4" -v p99="$p99" -v p99b="$p99b" -v window="$WINDOW" '
        BEGIN { t0 *= 1000; f *= 1000; h *= 1000; e *= 1000; last = f; first = -1 }
        $1 < t0 || $1 >= e { next }
        $1 < f { before++; next }
        {
            if ($1 < h) during++; else after++
            if ($1 - last > stall) stall = $1 - last
            last = $1
            if (first < 0 && $4 != old) first = $1 - f
        }
        END {
            if (e - last > stall) stall = e - last
            printf "  throughput entries/s: before %.0f, during %.0f, after %.0f\n",
                before / ((f - t0) / 1000), during / ((h - f) / 1000), (e > h ? after / ((e - h) / 1000) : 0)
            printf "  p99 commit latency (%d writes in flight): before %s ms, during %s ms\n", window, p99b, p99
            printf "  longest write stall %.0f ms; first commit on another node after the fault: %s\n",
                stall, first < 0 ? "none" : sprintf("%.0f ms", first)
            if (e > h && after == 0) { print "  FAILED: nothing committed after the heal"; exit 1 }
        }' || FAILED=1
}

# Stops writing, heals, checks safety, then stops every node (with node $1, if given, cut
# off first: a stop must not wait for an unreachable peer).
finish() {
    for i in $(seq 1 $N); do [ -n "${PID[$i]:-}" ] && kill -USR1 "${PID[$i]}" 2>/dev/null; done
    heal_all
    "$CHECK_BIN" "$ROOT" $N 20 || FAILED=1
    [ -n "${1:-}" ] && rule "$1" cut && echo "  node $1 cut off before the stop"
    for i in $(seq 1 $N); do [ -n "${PID[$i]:-}" ] && kill_node "$i" TERM; done
    local stops
    stops=$(cat "$ROOT"/node*/stop_ms 2>/dev/null | sort -n | tr '\n' ' ')
    echo "  dcf_stop ms: $stops"
    for s in $stops; do
        [ "$s" -gt 1000 ] && { echo "  FAILED: dcf_stop took $s ms"; FAILED=1; }
    done
}

follower_of() {
    local i
    for i in $(seq 1 $N); do [ "$i" != "$1" ] && { echo "$i"; return; }; done
}

leader_isolated() {
    begin leader_isolated "the leader is cut off for 6 s"
    local f h e
    f=$(now)
    rule "$L" cut
    sleep 6
    h=$(now)
    local top mine
    top=$(last_index "$(follower_of "$L")")
    mine=$(last_index "$L")
    rule "$L" heal
    echo "  old leader, from the heal: $(rejoin "$L" "$mine" "$h" "$top")"
    sleep 3
    e=$(now)
    figures "$f" "$h" "$e" "$L"
    finish
}

asymmetric_leader() {
    begin asymmetric_leader "the leader sends but receives nothing for 6 s"
    local f h e
    f=$(now)
    rule "$L" deaf
    sleep 6
    h=$(now)
    rule "$L" heal
    sleep 3
    e=$(now)
    figures "$f" "$h" "$e" "$L"
    finish
}

follower_isolated() {
    begin follower_isolated "a follower is cut off for 20 s"
    local x f h e top mine
    x=$(follower_of "$L")
    f=$(now)
    rule "$x" cut
    sleep 20
    h=$(now)
    top=$(last_index "$L")
    mine=$(last_index "$x")
    rule "$x" heal
    echo "  follower, from the heal: $(rejoin "$x" "$mine" "$h" "$top")"
    sleep 3
    e=$(now)
    figures "$f" "$h" "$e" "$L"
    finish
}

short_cuts() {
    begin short_cuts "a follower is cut off for 1, 2, 4, 6, 8 and 10 s, 3 s apart"
    local x f h top c mine
    x=$(follower_of "$L")
    for c in 1 2 4 6 8 10; do
        f=$(now)
        rule "$x" cut
        sleep "$c"
        h=$(now)
        top=$(last_index "$L")
        mine=$(last_index "$x")
        rule "$x" heal
        echo "  cut of $c s, from the heal: $(rejoin "$x" "$mine" "$h" "$top")"
        sleep 3
    done
    finish "$x"
}

loss() {
    begin loss "10% of packets dropped on every link for 10 s"
    local f h e i
    f=$(now)
    for i in $(seq 1 $N); do rule "$i" loss 10; done
    sleep 10
    h=$(now)
    heal_all
    sleep 2
    e=$(now)
    figures "$f" "$h" "$e" "$L"
    finish
}

# The same with one write at a time: commit latency rather than throughput.
loss_latency() {
    WINDOW=1
    begin loss_latency "10% of packets dropped on every link for 10 s, one write at a time"
    WINDOW=64
    local f h e i
    f=$(now)
    for i in $(seq 1 $N); do rule "$i" loss 10; done
    sleep 10
    h=$(now)
    heal_all
    sleep 1
    e=$(now)
    WINDOW=1 figures "$f" "$h" "$e" "$L"
    finish
}

flapping() {
    begin flapping "one node after another cut off for 2 s, for 30 s"
    local f h e k
    f=$(now)
    for k in $(seq 0 14); do
        heal_all
        rule $((k % N + 1)) cut
        sleep 2
    done
    h=$(now)
    heal_all
    sleep 2
    e=$(now)
    figures "$f" "$h" "$e" 0
    finish
}

kill_leader_while_cut() {
    begin kill_leader_while_cut "a follower is cut off, the leader is killed, then the follower heals"
    local x f h e
    x=$(follower_of "$L")
    rule "$x" cut
    sleep 2
    f=$(now)
    kill_node "$L" KILL
    sleep 1
    h=$(now)
    rule "$x" heal
    local nl
    nl=$(wait_leader)
    echo "  new leader: node $nl"
    sleep 3
    start_node "$L"
    sleep 3
    e=$(now)
    figures "$f" "$h" "$e" "$L"
    finish
}

setup_network
for s in $SCENARIOS; do
    case $s in
    leader_isolated | asymmetric_leader | follower_isolated | short_cuts | loss | loss_latency | flapping | kill_leader_while_cut) "$s" ;;
    *)
        echo "unknown scenario $s"
        FAILED=1
        ;;
    esac
done
if [ $FAILED = 0 ]; then echo "fault-test: all scenarios passed"; else echo "fault-test: FAILED"; fi
exit $FAILED
