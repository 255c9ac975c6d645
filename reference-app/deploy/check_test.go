package deploy

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// namespace is the one namespace everything lives in.
const namespace = "refapp"

// refappImage is the repository of refapp's image in the manifests (the
// kustomization may rename it).
const refappImage = "refapp"

// defaultDrain is refapp's --drain-timeout default (ARCHITECTURE.md,
// README.md).
const defaultDrain = 5 // seconds

// namespacedKinds are the kinds the manifests may hold besides the
// Namespace itself: all namespaced. A cluster-scoped kind (ClusterRole,
// ClusterRoleBinding, ...) would reach beyond the namespace.
var namespacedKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "Service": true, "ConfigMap": true,
	"Secret": true, "PersistentVolumeClaim": true, "ServiceAccount": true,
	"Role": true, "RoleBinding": true, "PodDisruptionBudget": true,
	"HorizontalPodAutoscaler": true,
}

// groupResource is a resource of an API group ("" is the core group).
type groupResource struct{ group, resource string }

func (gr groupResource) String() string {
	if gr.group == "" {
		return gr.resource
	}
	return gr.resource + "." + gr.group
}

// gamedayRules are exactly what the gameday Role grants (k8s/gameday-rbac.yaml):
// the verbs on each resource. Any other resource or verb is refused, and
// each of these must be granted.
var gamedayRules = map[groupResource][]string{
	{"", "pods"}:                {"get", "list", "watch", "delete"},
	{"", "pods/log"}:            {"get", "list"},
	{"apps", "replicasets"}:     {"get", "list", "watch"},
	{"apps", "deployments"}:     {"get", "list", "watch"},
	{"apps", "statefulsets"}:    {"get", "list", "watch"},
	{"apps", "daemonsets"}:      {"get", "list", "watch"},
	{"", "events"}:              {"create"},
	{"events.k8s.io", "events"}: {"create"},
}

// workload is a Deployment or a StatefulSet.
type workload struct {
	kind, name  string
	replicas    int32
	selector    *metav1.LabelSelector
	template    *corev1.PodTemplateSpec
	claims      []corev1.PersistentVolumeClaim // StatefulSet volumeClaimTemplates
	serviceName string                         // StatefulSet governing Service
}

func (w *workload) String() string { return w.kind + " " + w.name }

// manifests is a decoded set of documents, indexed by kind and name.
type manifests struct {
	docs            []doc
	workloads       []*workload
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	claims          map[string]*corev1.PersistentVolumeClaim
	serviceAccounts map[string]*corev1.ServiceAccount
	roles           map[string]*rbacv1.Role
	bindings        []*rbacv1.RoleBinding
	pdbs            []*policyv1.PodDisruptionBudget
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
}

func index(docs []doc) *manifests {
	m := &manifests{
		docs:            docs,
		services:        map[string]*corev1.Service{},
		configMaps:      map[string]*corev1.ConfigMap{},
		secrets:         map[string]*corev1.Secret{},
		claims:          map[string]*corev1.PersistentVolumeClaim{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		roles:           map[string]*rbacv1.Role{},
	}
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *appsv1.Deployment:
			m.workloads = append(m.workloads, &workload{kind: "Deployment", name: o.Name,
				replicas: replicas(o.Spec.Replicas), selector: o.Spec.Selector, template: &o.Spec.Template})
		case *appsv1.StatefulSet:
			m.workloads = append(m.workloads, &workload{kind: "StatefulSet", name: o.Name,
				replicas: replicas(o.Spec.Replicas), selector: o.Spec.Selector, template: &o.Spec.Template,
				claims: o.Spec.VolumeClaimTemplates, serviceName: o.Spec.ServiceName})
		case *corev1.Service:
			m.services[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.Secret:
			m.secrets[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			m.claims[o.Name] = o
		case *corev1.ServiceAccount:
			m.serviceAccounts[o.Name] = o
		case *rbacv1.Role:
			m.roles[o.Name] = o
		case *rbacv1.RoleBinding:
			m.bindings = append(m.bindings, o)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpas = append(m.hpas, o)
		}
	}
	return m
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1 // the API default
	}
	return *r
}

// workload returns the workload of that kind and name, or nil.
func (m *manifests) workload(kind, name string) *workload {
	for _, w := range m.workloads {
		if w.kind == kind && w.name == name {
			return w
		}
	}
	return nil
}

// selected returns the workloads whose pods carry every label of sel.
func (m *manifests) selected(sel labels.Selector) []*workload {
	var out []*workload
	for _, w := range m.workloads {
		if sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

// problems collects what is wrong, in a stable order.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// check runs every check on m and returns the problems found.
func check(m *manifests, c contract) []string {
	var p problems
	checkScope(m, &p)
	checkPodSecurity(m, &p)
	for _, w := range m.workloads {
		checkWorkload(m, c, w, &p)
	}
	checkServices(m, &p)
	checkRBAC(m, &p)
	checkPDBs(m, &p)
	checkHPAs(m, &p)
	checkToxiproxy(m, &p)
	checkWiring(m, &p)
	checkStores(m, &p)
	return p
}

// checkScope: everything is namespaced, in the one namespace, which the
// manifests create; no kind/name twice.
func checkScope(m *manifests, p *problems) {
	seen := map[string]bool{}
	namespaces := 0
	for _, d := range m.docs {
		obj, err := meta.Accessor(d.obj)
		if err != nil {
			p.add("%s#%d: %v", d.file, d.index, err)
			continue
		}
		id := d.kind + " " + obj.GetName()
		if seen[id] {
			p.add("%s: defined twice", id)
		}
		seen[id] = true
		switch {
		case d.kind == "Namespace":
			namespaces++
			if obj.GetName() != namespace {
				p.add("%s: want only Namespace %s", id, namespace)
			}
		case !namespacedKinds[d.kind]:
			p.add("%s (%s): kind %s not allowed: cluster-scoped or unexpected", id, d.file, d.kind)
		case obj.GetNamespace() != namespace:
			p.add("%s: namespace %q; want %q", id, obj.GetNamespace(), namespace)
		}
	}
	if namespaces != 1 {
		p.add("%d Namespace objects; want 1 (%s)", namespaces, namespace)
	}
}

// podSecurityLevel is the Pod Security Standard the namespace enforces.
const podSecurityLevel = psaapi.LevelRestricted

// checkPodSecurity evaluates every pod template with the Pod Security
// Admission library, the code the API server runs for the namespace's
// pod-security.kubernetes.io/enforce label, which must say restricted.
func checkPodSecurity(m *manifests, p *problems) {
	for _, d := range m.docs {
		if ns, ok := d.obj.(*corev1.Namespace); ok {
			if got := ns.Labels[psaapi.EnforceLevelLabel]; got != string(podSecurityLevel) {
				p.add("Namespace %s: label %s=%q; want %q", ns.Name, psaapi.EnforceLevelLabel, got, podSecurityLevel)
			}
		}
	}
	ev, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		p.add("pod security evaluator: %v", err)
		return
	}
	level := psaapi.LevelVersion{Level: podSecurityLevel, Version: psaapi.LatestVersion()}
	for _, w := range m.workloads {
		r := psapolicy.AggregateCheckResults(ev.EvaluatePod(level, &w.template.ObjectMeta, &w.template.Spec))
		if r.Allowed {
			continue
		}
		var why []string
		for i, reason := range r.ForbiddenReasons {
			if i < len(r.ForbiddenDetails) && r.ForbiddenDetails[i] != "" {
				reason += " (" + r.ForbiddenDetails[i] + ")"
			}
			why = append(why, reason)
		}
		p.add("%s: Pod Security %s forbids its pods: %s", w, podSecurityLevel, strings.Join(why, "; "))
	}
}

// isRefapp reports whether c runs refapp's image.
func isRefapp(c *corev1.Container) bool {
	repo, _, _ := strings.Cut(c.Image, ":")
	return repo == refappImage || strings.HasSuffix(repo, "/"+refappImage)
}

// argPattern is the only argument form the manifests use: --flag=value.
var argPattern = regexp.MustCompile(`^--([a-z][a-z0-9-]*)=(.*)$`)

// flagValue returns the value of --name in args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if m := argPattern.FindStringSubmatch(a); m != nil && m[1] == name {
			return m[2], true
		}
	}
	return "", false
}

// checkWorkload checks one Deployment or StatefulSet: selector, security,
// resources, probes; for refapp's containers also flags, labels, scrape
// annotations, listen address, volumes and shutdown timing.
func checkWorkload(m *manifests, c contract, w *workload, p *problems) {
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil || sel.Empty() {
		p.add("%s: bad or empty selector: %v", w, err)
	} else if !sel.Matches(labels.Set(w.template.Labels)) {
		p.add("%s: selector %s does not match its pod labels %v", w, sel, w.template.Labels)
	}
	spec := &w.template.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		p.add("%s: automountServiceAccountToken not false: no pod here talks to the API server", w)
	}
	for _, init := range spec.InitContainers {
		checkContainer(w, spec, &init, "init container", p)
	}
	for i := range spec.Containers {
		ctr := &spec.Containers[i]
		checkContainer(w, spec, ctr, "container", p)
		if ctr.ReadinessProbe == nil {
			p.add("%s: container %s: no readinessProbe", w, ctr.Name)
		}
		if ctr.LivenessProbe == nil {
			p.add("%s: container %s: no livenessProbe", w, ctr.Name)
		}
		checkVolumes(m, w, ctr, p)
		if isRefapp(ctr) {
			checkRefappContainer(c, w, ctr, p)
		}
	}
	checkScrape(w, p)
}

// checkContainer checks what every container needs: a restricted security
// context and bounded resources.
func checkContainer(w *workload, pod *corev1.PodSpec, ctr *corev1.Container, what string, p *problems) {
	where := fmt.Sprintf("%s: %s %s", w, what, ctr.Name)
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := ctr.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	nonRoot, user := psc.RunAsNonRoot, psc.RunAsUser
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		user = sc.RunAsUser
	}
	if nonRoot == nil || !*nonRoot {
		p.add("%s: runAsNonRoot not true", where)
	}
	if user != nil && *user == 0 {
		p.add("%s: runAsUser 0", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		p.add("%s: readOnlyRootFilesystem not true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		p.add("%s: allowPrivilegeEscalation not false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		p.add("%s: privileged", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		p.add("%s: capabilities do not drop ALL", where)
	} else if len(sc.Capabilities.Add) > 0 {
		p.add("%s: adds capabilities %v", where, sc.Capabilities.Add)
	}
	seccomp := psc.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p.add("%s: seccomp profile not RuntimeDefault", where)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := ctr.Resources.Requests[r]
		lim, hasLim := ctr.Resources.Limits[r]
		switch {
		case !hasLim:
			p.add("%s: no %s limit", where, r)
		case !hasReq:
			p.add("%s: no %s request", where, r)
		case req.Cmp(lim) > 0:
			p.add("%s: %s request %s above limit %s", where, r, req.String(), lim.String())
		}
	}
}

// checkRefappContainer checks a container of refapp's image against the
// documented contract.
func checkRefappContainer(c contract, w *workload, ctr *corev1.Container, p *problems) {
	where := fmt.Sprintf("%s: container %s", w, ctr.Name)
	role, _ := flagValue(ctr.Args, "role")
	roleFlags, ok := c.flags[role]
	if !ok {
		p.add("%s: --role=%q is not a documented role", where, role)
	}
	seen := map[string]bool{}
	for _, a := range ctr.Args {
		m := argPattern.FindStringSubmatch(a)
		if m == nil {
			p.add("%s: argument %q: want --flag=value", where, a)
			continue
		}
		if seen[m[1]] {
			p.add("%s: --%s given twice", where, m[1])
		}
		seen[m[1]] = true
		if ok && !roleFlags["--"+m[1]] {
			p.add("%s: --%s is not a flag of role %s (refapp exits 2)", where, m[1], role)
		}
	}
	if len(ctr.Command) > 0 {
		p.add("%s: command %v overrides the image's ENTRYPOINT /refapp", where, ctr.Command)
	}

	// Labels: gameday selects pods by role, dashboards by component.
	want := map[string]string{
		"app.kubernetes.io/name":      "refapp",
		"app.kubernetes.io/component": role,
		"role":                        role,
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got := w.template.Labels[k]; got != want[k] {
			p.add("%s: pod label %s=%q; want %q", w, k, got, want[k])
		}
	}

	// The default --listen is loopback: the kubelet's probes and every
	// other pod would be refused.
	http := containerPort(ctr, "http")
	listen, _ := flagValue(ctr.Args, "listen")
	host, port, err := net.SplitHostPort(listen)
	switch {
	case err != nil:
		p.add("%s: --listen=%q: want :PORT on all interfaces (%v)", where, listen, err)
	case host != "" && host != "0.0.0.0" && host != "::":
		p.add("%s: --listen=%s: host %s is not all interfaces", where, listen, host)
	case http == nil || strconv.Itoa(int(http.ContainerPort)) != port:
		p.add("%s: --listen=%s: no container port named http with port %s", where, listen, port)
	}

	checkProbe(where, "readinessProbe", ctr, ctr.ReadinessProbe, "/readyz", p)
	checkProbe(where, "livenessProbe", ctr, ctr.LivenessProbe, "/healthz", p)

	// SIGTERM: preStop sleep, then refapp drains for --drain-timeout; the
	// kubelet must not SIGKILL before that.
	drain := defaultDrain
	if v, ok := flagValue(ctr.Args, "drain-timeout"); ok {
		d, err := parseSeconds(v)
		if err != nil {
			p.add("%s: --drain-timeout=%s: %v", where, v, err)
		}
		drain = d
	}
	sleep := 0
	if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil && ctr.Lifecycle.PreStop.Sleep != nil {
		sleep = int(ctr.Lifecycle.PreStop.Sleep.Seconds)
	}
	grace := 30 // the API default
	if g := w.template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = int(*g)
	}
	if sleep+drain >= grace {
		p.add("%s: preStop sleep %ds + drain %ds >= terminationGracePeriodSeconds %d", where, sleep, drain, grace)
	}
}

// parseSeconds reads a Go duration of whole seconds ("10s").
func parseSeconds(v string) (int, error) {
	n, ok := strings.CutSuffix(v, "s")
	if !ok {
		return 0, fmt.Errorf("want whole seconds like 10s")
	}
	return strconv.Atoi(n)
}

func checkProbe(where, what string, ctr *corev1.Container, pr *corev1.Probe, wantPath string, p *problems) {
	if pr == nil {
		return // reported already
	}
	if pr.HTTPGet == nil {
		p.add("%s: %s is not an HTTP GET of %s", where, what, wantPath)
		return
	}
	if pr.HTTPGet.Path != wantPath {
		p.add("%s: %s is GET %s; want %s", where, what, pr.HTTPGet.Path, wantPath)
	}
	if containerPortOf(ctr, pr.HTTPGet.Port) == nil {
		p.add("%s: %s port %s is not a container port", where, what, pr.HTTPGet.Port.String())
	}
}

// checkScrape: refapp pods are annotated for Prometheus, and every scrape
// annotation names a real port.
func checkScrape(w *workload, p *problems) {
	a := w.template.Annotations
	refapp := slices.ContainsFunc(w.template.Spec.Containers, func(c corev1.Container) bool { return isRefapp(&c) })
	if a["prometheus.io/scrape"] != "true" {
		if refapp {
			p.add("%s: pod annotation prometheus.io/scrape=%q; want \"true\"", w, a["prometheus.io/scrape"])
		}
		return
	}
	if a["prometheus.io/path"] != "/metrics" {
		p.add("%s: pod annotation prometheus.io/path=%q; want /metrics", w, a["prometheus.io/path"])
	}
	port, err := strconv.Atoi(a["prometheus.io/port"])
	found := false
	for i := range w.template.Spec.Containers {
		found = found || (err == nil && containerPortOf(&w.template.Spec.Containers[i], intstr.FromInt(port)) != nil)
	}
	if !found {
		p.add("%s: pod annotation prometheus.io/port=%q is not a container port", w, a["prometheus.io/port"])
	}
}

func containerPort(c *corev1.Container, name string) *corev1.ContainerPort {
	return containerPortOf(c, intstr.FromString(name))
}

// containerPortOf finds a port of c by name or number.
func containerPortOf(c *corev1.Container, port intstr.IntOrString) *corev1.ContainerPort {
	for i, cp := range c.Ports {
		if (port.Type == intstr.String && cp.Name == port.StrVal) ||
			(port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
			return &c.Ports[i]
		}
	}
	return nil
}

// checkVolumes: every volume and mount points at something that exists;
// every absolute path in the arguments is on a mounted volume (the root
// filesystem is read-only), a file of a Secret or ConfigMap exists as a
// key, and a --data-dir is persistent and writable.
func checkVolumes(m *manifests, w *workload, ctr *corev1.Container, p *problems) {
	where := fmt.Sprintf("%s: container %s", w, ctr.Name)
	spec := &w.template.Spec
	volumes := map[string]*corev1.Volume{}
	for i, v := range spec.Volumes {
		volumes[v.Name] = &spec.Volumes[i]
		switch {
		case v.Secret != nil && m.secrets[v.Secret.SecretName] == nil:
			p.add("%s: volume %s: no Secret %s", w, v.Name, v.Secret.SecretName)
		case v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil:
			p.add("%s: volume %s: no ConfigMap %s", w, v.Name, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil && m.claims[v.PersistentVolumeClaim.ClaimName] == nil:
			p.add("%s: volume %s: no PersistentVolumeClaim %s", w, v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	claimTemplates := map[string]bool{}
	for _, c := range w.claims {
		claimTemplates[c.Name] = true
	}
	for _, vm := range ctr.VolumeMounts {
		if volumes[vm.Name] == nil && !claimTemplates[vm.Name] {
			p.add("%s: volumeMount %s: no such volume or volumeClaimTemplate", where, vm.Name)
		}
	}
	for _, a := range ctr.Args {
		_, value, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(value, "/") {
			continue
		}
		var mount *corev1.VolumeMount
		for i, vm := range ctr.VolumeMounts {
			if (value == vm.MountPath || strings.HasPrefix(value, vm.MountPath+"/")) &&
				(mount == nil || len(vm.MountPath) > len(mount.MountPath)) {
				mount = &ctr.VolumeMounts[i]
			}
		}
		if mount == nil {
			p.add("%s: %s: path on no volume (the root filesystem is read-only and holds only the binary)", where, a)
			continue
		}
		v := volumes[mount.Name]
		key := strings.TrimPrefix(strings.TrimPrefix(value, mount.MountPath), "/")
		persistent := claimTemplates[mount.Name] || (v != nil && v.PersistentVolumeClaim != nil)
		switch {
		case v != nil && v.Secret != nil && m.secrets[v.Secret.SecretName] != nil:
			s := m.secrets[v.Secret.SecretName]
			if _, ok := s.StringData[key]; !ok {
				if _, ok := s.Data[key]; !ok {
					p.add("%s: %s: Secret %s has no key %q", where, a, s.Name, key)
				}
			}
		case v != nil && v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] != nil:
			if _, ok := m.configMaps[v.ConfigMap.Name].Data[key]; !ok {
				p.add("%s: %s: ConfigMap %s has no key %q", where, a, v.ConfigMap.Name, key)
			}
		case strings.HasPrefix(a, "--data-dir="):
			if !persistent || mount.ReadOnly {
				p.add("%s: %s: want a writable PersistentVolumeClaim there", where, a)
			}
		}
	}
}

// checkServices: every Service selects pods, its ports exist on them, and
// every StatefulSet's governing Service is headless and selects it.
func checkServices(m *manifests, p *problems) {
	for _, name := range slices.Sorted(maps.Keys(m.services)) {
		s := m.services[name]
		if len(s.Spec.Selector) == 0 {
			p.add("Service %s: no selector", name)
			continue
		}
		ws := m.selected(labels.SelectorFromSet(s.Spec.Selector))
		if len(ws) == 0 {
			p.add("Service %s: selector %v selects no workload's pods", name, s.Spec.Selector)
		}
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			for _, w := range ws {
				if podPort(w, target) == nil {
					p.add("Service %s: port %s targets %s, not a container port of %s", name, sp.Name, target.String(), w)
				}
			}
		}
	}
	for _, w := range m.workloads {
		if w.kind != "StatefulSet" {
			continue
		}
		s := m.services[w.serviceName]
		switch {
		case s == nil:
			p.add("%s: serviceName %q: no such Service", w, w.serviceName)
		case s.Spec.ClusterIP != corev1.ClusterIPNone:
			p.add("%s: Service %s is not headless: pods get no DNS names", w, s.Name)
		case !slices.Contains(m.selected(labels.SelectorFromSet(s.Spec.Selector)), w):
			p.add("%s: Service %s does not select its pods", w, s.Name)
		}
	}
}

// podPort finds a container port of w's pods by name or number.
func podPort(w *workload, port intstr.IntOrString) *corev1.ContainerPort {
	for i := range w.template.Spec.Containers {
		if cp := containerPortOf(&w.template.Spec.Containers[i], port); cp != nil {
			return cp
		}
	}
	return nil
}

// checkRBAC: Roles grant only gamedayRules; bindings bind Roles of this
// namespace to its ServiceAccounts; ServiceAccount gameday is granted every
// verb of gamedayRules.
func checkRBAC(m *manifests, p *problems) {
	for _, name := range slices.Sorted(maps.Keys(m.roles)) {
		for i, r := range m.roles[name].Rules {
			where := fmt.Sprintf("Role %s: rule %d", name, i)
			if len(r.NonResourceURLs) > 0 {
				p.add("%s: nonResourceURLs %v", where, r.NonResourceURLs)
			}
			if len(r.ResourceNames) > 0 {
				p.add("%s: resourceNames %v; gameday picks its victims at run time", where, r.ResourceNames)
			}
			if len(r.APIGroups) == 0 || len(r.Resources) == 0 {
				p.add("%s: no apiGroups or no resources", where)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					gr := groupResource{g, res}
					allowed, ok := gamedayRules[gr]
					if !ok {
						p.add("%s: resource %q in group %q; want only what gameday needs", where, res, g)
						continue
					}
					for _, v := range r.Verbs {
						if !slices.Contains(allowed, v) {
							p.add("%s: verb %q on %s; want only %v", where, v, gr, allowed)
						}
					}
				}
			}
		}
	}
	bound := map[string]bool{} // "serviceaccount/role"
	for _, b := range m.bindings {
		if b.RoleRef.Kind != "Role" || b.RoleRef.APIGroup != rbacv1.GroupName || m.roles[b.RoleRef.Name] == nil {
			p.add("RoleBinding %s: roleRef %s %s: want a Role of this namespace", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || s.Namespace != namespace || m.serviceAccounts[s.Name] == nil {
				p.add("RoleBinding %s: subject %s %s/%s: want a ServiceAccount of namespace %s", b.Name, s.Kind, s.Namespace, s.Name, namespace)
				continue
			}
			bound[s.Name+"/"+b.RoleRef.Name] = true
		}
	}
	grs := slices.SortedFunc(maps.Keys(gamedayRules), func(a, b groupResource) int {
		return strings.Compare(a.String(), b.String())
	})
	for _, gr := range grs {
		for _, verb := range gamedayRules[gr] {
			if !saCan(m, bound, "gameday", gr, verb) {
				p.add("ServiceAccount gameday cannot %s %s", verb, gr)
			}
		}
	}
}

// saCan reports whether ServiceAccount sa may do verb on gr.
func saCan(m *manifests, bound map[string]bool, sa string, gr groupResource, verb string) bool {
	for name, role := range m.roles {
		if !bound[sa+"/"+name] {
			continue
		}
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, gr.group) && slices.Contains(r.Resources, gr.resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
	}
	return false
}

// checkPDBs: each budget selects exactly one workload and leaves room for a
// drain; api keeps 2, gateway has one.
func checkPDBs(m *manifests, p *problems) {
	want := map[string]int{"Deployment api": 2, "Deployment gateway": 1}
	for _, b := range m.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || sel.Empty() {
			p.add("PodDisruptionBudget %s: bad or empty selector: %v", b.Name, err)
			continue
		}
		ws := m.selected(sel)
		if len(ws) != 1 {
			p.add("PodDisruptionBudget %s: selects %v; want exactly one workload", b.Name, ws)
			continue
		}
		w := ws[0]
		if b.Spec.MinAvailable == nil || b.Spec.MinAvailable.Type != intstr.Int {
			p.add("PodDisruptionBudget %s: want minAvailable as a number of pods", b.Name)
			continue
		}
		minAvail := int(b.Spec.MinAvailable.IntVal)
		if minAvail >= int(w.replicas) {
			p.add("PodDisruptionBudget %s: minAvailable %d >= %s replicas %d: no node could ever be drained", b.Name, minAvail, w, w.replicas)
		}
		if n, ok := want[w.String()]; ok {
			if minAvail != n {
				p.add("PodDisruptionBudget %s: minAvailable %d for %s; want %d", b.Name, minAvail, w, n)
			}
			delete(want, w.String())
		}
	}
	for _, w := range slices.Sorted(maps.Keys(want)) {
		p.add("no PodDisruptionBudget selects %s", w)
	}
}

// quantity parses q or panics: for test mutations only.
func quantity(q string) resource.Quantity { return resource.MustParse(q) }
