#!/usr/bin/env bash
# kube-testenv.sh: a real Kubernetes control plane on 127.0.0.1 for the
# tests that need one (make test-k8s). etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler are built from the Go module
# proxy; kwok stands in for the kubelets, so pods become Ready on a fake node
# without running anything. See docs/benchmarks.md for what it costs.
#
#   hack/kube-testenv.sh build        build the five binaries once (cached by versions)
#   hack/kube-testenv.sh start DIR    start the control plane, state and logs in DIR
#   hack/kube-testenv.sh stop DIR     stop what `start DIR` started (only DIR/pids)
#
# The binaries go to ${GAMEDAY_KUBE_TOOLS:-$HOME/.cache/gameday/kube}/<versions>/bin,
# outside the repository, so that a clean clone and `git clean` keep them.
# shellcheck disable=SC2317 # healthz, node_ready...: called through wait_until
set -euo pipefail

KUBE_VERSION=v1.37.1     # k8s.io/kubernetes; v1.37.2 is not served by the module proxy
STAGING_VERSION=v0.37.1  # its staging modules (k8s.io/api, k8s.io/apiserver, ...)
ETCD_VERSION=v3.6.16     # go.etcd.io/etcd/server/v3 (3.4 lacks the watch progress requests kwok needs)
KWOK_VERSION=v0.8.0      # sigs.k8s.io/kwok

VERSIONS_KEY="k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
TOOLS_ROOT="${GAMEDAY_KUBE_TOOLS:-${HOME}/.cache/gameday/kube}"
BIN_DIR="${TOOLS_ROOT}/${VERSIONS_KEY}/bin"

# Bounds, in seconds.
START_TIMEOUT="${GAMEDAY_KUBE_START_TIMEOUT:-60}"  # each readiness wait of start
STOP_TIMEOUT=10                                    # TERM to KILL in stop

BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# The kwok stages: a node becomes Ready and keeps its lease; a pod becomes
# Ready, completes, and goes when deleted.
KWOK_STAGES=(
	node/fast/node-initialize.yaml
	node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
	pod/fast/pod-ready.yaml
	pod/fast/pod-complete.yaml
	pod/fast/pod-delete.yaml
)

log() { printf 'kube-testenv: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ---------------------------------------------------------------- build

# go_build_env runs go with the environment the builds want: no workspace, no
# inherited -mod or -tags, static binaries, paths trimmed.
go_build_env() {
	GOWORK=off GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0 go "$@"
}

module_dir() { # module@version -> its directory in the module cache (downloads it)
	go_build_env mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

build_kubernetes() { # out_dir work_dir
	local out=$1 work=$2/kubernetes gomod staging
	mkdir -p "$work"
	(
		cd "$work"
		go_build_env mod init gameday.local/kube-tools >/dev/null 2>&1
		gomod=$(go_build_env mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" |
			sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
		[[ -f $gomod ]] || die "no go.mod for k8s.io/kubernetes@${KUBE_VERSION}"
		# k8s.io/kubernetes requires its staging modules at v0.0.0 and
		# replaces them with ./staging/...; a requiring module must name
		# the published versions instead.
		staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) v0\.0\.0$#\1#p' "$gomod" | sort -u)
		[[ -n $staging ]] || die "no staging modules found in $gomod"
		for m in $staging; do
			printf 'replace %s => %s %s\n' "$m" "$m" "$STAGING_VERSION"
		done >>go.mod
		log "k8s.io/kubernetes@${KUBE_VERSION}: $(wc -w <<<"$staging") staging modules replaced by ${STAGING_VERSION}"
		go_build_env get \
			"k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}" \
			"k8s.io/kubernetes/cmd/kube-controller-manager@${KUBE_VERSION}" \
			"k8s.io/kubernetes/cmd/kube-scheduler@${KUBE_VERSION}"
		local minor=${KUBE_VERSION#v1.}
		minor=${minor%%.*}
		local x ldflags=""
		for x in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ldflags+=" -X ${x}.gitVersion=${KUBE_VERSION} -X ${x}.gitMajor=1 -X ${x}.gitMinor=${minor} -X ${x}.gitTreeState=clean"
		done
		go_build_env build -ldflags "-s -w${ldflags}" -o "$out/" \
			k8s.io/kubernetes/cmd/kube-apiserver \
			k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler
	)
}

build_etcd() { # out_dir work_dir
	local out=$1 work=$2/etcd m
	mkdir -p "$work"
	(
		cd "$work"
		go_build_env mod init gameday.local/etcd-tools >/dev/null 2>&1
		# etcd's server module replaces its sibling modules with ../...;
		# pin them to the same release.
		for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
			printf 'replace %s => %s %s\n' "$m" "$m" "$ETCD_VERSION"
		done >>go.mod
		go_build_env get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
		go_build_env build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-${ETCD_VERSION}" \
			-o "$out/etcd" go.etcd.io/etcd/server/v3
	)
}

build_kwok() { # out_dir work_dir
	local out=$1 work=$2/kwok dir s
	mkdir -p "$work"
	(
		cd "$work"
		go_build_env mod init gameday.local/kwok-tools >/dev/null 2>&1
		go_build_env get "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
		go_build_env build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
			-o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
		dir=$(module_dir "sigs.k8s.io/kwok@${KWOK_VERSION}")
		mkdir -p "$out/kwok-stages"
		for s in "${KWOK_STAGES[@]}"; do
			cp "$dir/kustomize/stage/$s" "$out/kwok-stages/"
		done
		chmod u+w "$out"/kwok-stages/*.yaml
	)
}

cmd_build() {
	[[ $# -eq 0 ]] || usage
	local start=$SECONDS
	if [[ -f "$BIN_DIR/.complete" ]]; then
		log "binaries already built in $BIN_DIR: nothing to do"
		return 0
	fi
	command -v go >/dev/null || die "go not found on PATH"
	local tmp_bin="${BIN_DIR}.tmp.$$" work
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: the paths are fixed
	trap "rm -rf '$work' '$tmp_bin'" EXIT
	mkdir -p "$tmp_bin"
	log "building ${BINARIES[*]} ($VERSIONS_KEY) into $BIN_DIR: 10-25 min on 2 cores with an empty Go build cache, under a minute with a warm one"
	build_etcd "$tmp_bin" "$work"
	log "etcd built after $((SECONDS - start)) s"
	build_kwok "$tmp_bin" "$work"
	log "kwok built after $((SECONDS - start)) s"
	build_kubernetes "$tmp_bin" "$work"
	log "kube-apiserver, kube-controller-manager, kube-scheduler built after $((SECONDS - start)) s"
	local b
	for b in "${BINARIES[@]}"; do
		[[ -x "$tmp_bin/$b" ]] || die "$b was not built"
	done
	printf '%s\n' "$VERSIONS_KEY" >"$tmp_bin/.complete"
	rm -rf "$BIN_DIR"
	mv "$tmp_bin" "$BIN_DIR"
	log "built in $BIN_DIR in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------- start

# free_port prints a TCP port that nothing listens on at 127.0.0.1 or on all
# addresses, below the kernel's ephemeral range (so that no outgoing
# connection takes it meanwhile) and not yet handed out by this start.
declare -A TAKEN_PORTS=()
free_port() {
	local port hex i
	for ((i = 0; i < 200; i++)); do
		port=$((20000 + RANDOM % 12000))
		[[ -z ${TAKEN_PORTS[$port]:-} ]] || continue
		printf -v hex '%04X' "$port"
		# /proc/net/tcp{,6}: local address HEXIP:HEXPORT, state 0A = LISTEN
		if ! grep -qE "^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			TAKEN_PORTS[$port]=1
			echo "$port"
			return 0
		fi
	done
	die "no free port found"
}

# launch NAME ARGS... starts a component in the background, its output in
# logs/NAME.log, and records its PID in DIR/pids before anything waits on it.
launch() {
	local name=$1
	shift
	nohup "$BIN_DIR/$name" "$@" >"$STATE_DIR/logs/$name.log" 2>&1 </dev/null &
	printf '%s %s\n' "$name" "$!" >>"$STATE_DIR/pids"
	PIDS[$name]=$!
}

# wait_until DESC COMPONENT CMD...: runs CMD until it succeeds, at most
# START_TIMEOUT seconds; fails early, with the end of its log, when
# COMPONENT has exited.
wait_until() {
	local desc=$1 component=$2 deadline=$((SECONDS + START_TIMEOUT))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [[ -n $component ]] && ! kill -0 "${PIDS[$component]}" 2>/dev/null; then
			tail -n 20 "$STATE_DIR/logs/$component.log" >&2 || true
			die "$component exited while waiting for $desc (log: $STATE_DIR/logs/$component.log)"
		fi
		if ((SECONDS >= deadline)); then
			[[ -z $component ]] || tail -n 20 "$STATE_DIR/logs/$component.log" >&2 || true
			die "timed out after ${START_TIMEOUT}s waiting for $desc"
		fi
		sleep 0.2
	done
}

api() { # METHOD PATH [BODY]: a request to the API server as the admin
	local args=(--silent --show-error --fail --max-time 5 --cacert "$STATE_DIR/pki/ca.crt"
		-H "Authorization: Bearer $ADMIN_TOKEN" -X "$1" "https://127.0.0.1:${API_PORT}$2")
	if [[ $# -ge 3 ]]; then
		args+=(-H 'Content-Type: application/json' --data "$3")
	fi
	curl "${args[@]}"
}

healthz() { # PORT: a component's self-signed /healthz answers ok
	[[ $(curl --silent --fail --max-time 2 --insecure "https://127.0.0.1:$1/healthz") == ok ]]
}

node_ready() {
	api GET /api/v1/nodes/kwok-node-0 | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
}

make_pki() {
	local pki=$STATE_DIR/pki
	mkdir -p "$pki"
	(
		cd "$pki"
		openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ca.key
		openssl req -x509 -new -key ca.key -subj "/CN=gameday-testenv-ca" -days 7 -out ca.crt
		openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out apiserver.key
		openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
			-extfile <(printf '%s\n' \
				'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc' \
				'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth') \
			-out apiserver.crt 2>/dev/null
		openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
		openssl pkey -in sa.key -pubout -out sa.pub
		chmod 600 ./*.key
	)
	ADMIN_TOKEN=$(openssl rand -hex 24)
	# A static token of a system:masters user: the components and the tests share it.
	printf '%s,gameday-admin,gameday-admin,"system:masters"\n' "$ADMIN_TOKEN" >"$pki/tokens.csv"
	chmod 600 "$pki/tokens.csv"
	cat >"$STATE_DIR/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: gameday-testenv
  cluster:
    server: https://127.0.0.1:${API_PORT}
    certificate-authority: ${pki}/ca.crt
users:
- name: gameday-admin
  user:
    token: ${ADMIN_TOKEN}
contexts:
- name: gameday-testenv
  context:
    cluster: gameday-testenv
    user: gameday-admin
current-context: gameday-testenv
KUBECONFIG
	chmod 600 "$STATE_DIR/kubeconfig"
}

cmd_start() {
	[[ $# -eq 1 ]] || usage
	[[ -f "$BIN_DIR/.complete" ]] || die "no binaries in $BIN_DIR: run '$0 build' (make kube-tools) first"
	mkdir -p "$1"
	STATE_DIR=$(cd "$1" && pwd)
	[[ ! -s "$STATE_DIR/pids" ]] || die "$STATE_DIR/pids exists: stop that control plane first ($0 stop $STATE_DIR)"
	local start=$SECONDS
	declare -gA PIDS=()
	mkdir -p "$STATE_DIR/logs"
	: >"$STATE_DIR/pids"
	# On any failure, stop what was started.
	trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping what it started"; cmd_stop "$STATE_DIR" || true; fi' EXIT

	local etcd_port etcd_peer_port kcm_port sched_port kwok_port
	etcd_port=$(free_port)
	etcd_peer_port=$(free_port)
	API_PORT=$(free_port)
	kcm_port=$(free_port)
	sched_port=$(free_port)
	kwok_port=$(free_port)
	make_pki
	local kc=$STATE_DIR/kubeconfig pki=$STATE_DIR/pki

	launch etcd --name=testenv --data-dir="$STATE_DIR/etcd" \
		--listen-client-urls="http://127.0.0.1:${etcd_port}" --advertise-client-urls="http://127.0.0.1:${etcd_port}" \
		--listen-peer-urls="http://127.0.0.1:${etcd_peer_port}" --initial-advertise-peer-urls="http://127.0.0.1:${etcd_peer_port}" \
		--initial-cluster="testenv=http://127.0.0.1:${etcd_peer_port}" \
		--unsafe-no-fsync --log-level=warn
	wait_until "etcd /health" etcd curl --silent --fail --max-time 2 "http://127.0.0.1:${etcd_port}/health"

	launch kube-apiserver --etcd-servers="http://127.0.0.1:${etcd_port}" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
		--endpoint-reconciler-type=none \
		--cert-dir="$STATE_DIR/apiserver" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range=10.96.0.0/16 --authorization-mode=Node,RBAC
	wait_until "kube-apiserver /readyz" kube-apiserver api GET /readyz

	launch kube-controller-manager --kubeconfig="$kc" \
		--authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
		--bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$STATE_DIR/controller-manager" \
		--leader-elect=false --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--flex-volume-plugin-dir="$STATE_DIR/controller-manager/flexvolume"
	launch kube-scheduler --kubeconfig="$kc" \
		--authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
		--bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$STATE_DIR/scheduler" \
		--leader-elect=false
	local f
	for f in "$BIN_DIR"/kwok-stages/*.yaml; do
		printf -- '---\n'
		cat "$f"
	done >"$STATE_DIR/kwok.yaml"
	launch kwok --kubeconfig="$kc" --config="$STATE_DIR/kwok.yaml" \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--server-address="127.0.0.1:${kwok_port}" --node-lease-duration-seconds=40
	wait_until "kube-controller-manager /healthz" kube-controller-manager healthz "$kcm_port"
	wait_until "kube-scheduler /healthz" kube-scheduler healthz "$sched_port"

	api POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-0",
		"annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},
		"labels":{"type":"kwok","kubernetes.io/hostname":"kwok-node-0","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64"}}}' >/dev/null
	wait_until "node kwok-node-0 Ready (kwok)" kwok node_ready
	wait_until "ServiceAccount default/default" kube-controller-manager api GET /api/v1/namespaces/default/serviceaccounts/default

	trap - EXIT
	log "control plane up in $((SECONDS - start)) s: https://127.0.0.1:${API_PORT}, logs in $STATE_DIR/logs"
	echo "export GAMEDAY_KUBECONFIG=$STATE_DIR/kubeconfig"
}

# ---------------------------------------------------------------- stop

# terminate PID...: TERM, then KILL those still up after STOP_TIMEOUT; returns
# once all are gone (or fails if one survives KILL).
terminate() {
	local pid deadline
	[[ $# -gt 0 ]] || return 0
	kill -TERM "$@" 2>/dev/null || true
	deadline=$((SECONDS + STOP_TIMEOUT))
	for pid in "$@"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
	done
	for pid in "$@"; do
		if kill -0 "$pid" 2>/dev/null; then
			log "PID $pid still up ${STOP_TIMEOUT}s after TERM: KILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	deadline=$((SECONDS + 5))
	for pid in "$@"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
		! kill -0 "$pid" 2>/dev/null || die "PID $pid survives KILL"
	done
}

cmd_stop() {
	[[ $# -eq 1 ]] || usage
	local dir=$1 name pid n=0 clients=() apiserver=() etcd=()
	[[ -f "$dir/pids" ]] || {
		log "nothing to stop: no $dir/pids"
		return 0
	}
	while read -r name pid; do
		[[ $pid =~ ^[0-9]+$ ]] || continue
		# A PID is reused once its process is gone: kill it only while it
		# still runs the recorded component's binary.
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */"$name" ]] || continue
		case $name in
		etcd) etcd+=("$pid") ;;
		kube-apiserver) apiserver+=("$pid") ;;
		*) clients+=("$pid") ;;
		esac
		n=$((n + 1))
	done <"$dir/pids"
	# The API server's clients first, etcd last: an API server whose etcd
	# is gone does not exit on TERM.
	terminate "${clients[@]}"
	terminate "${apiserver[@]}"
	terminate "${etcd[@]}"
	rm -f "$dir/pids"
	log "stopped $n processes of $dir"
}

# ---------------------------------------------------------------- main

main() {
	[[ $# -ge 1 ]] || usage
	local cmd=$1
	shift
	case $cmd in
	build) cmd_build "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	print-bin-dir) echo "$BIN_DIR" ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"; exit  # on one line: bash reads no further if this file changes meanwhile
