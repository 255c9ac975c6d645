package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// manifestDir holds the Kubernetes manifests and their kustomization.
const manifestDir = "k8s"

// strictDecoder decodes YAML or JSON into client-go's typed objects and
// fails on an unknown or duplicated field, a wrong type, or an unknown
// kind.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// doc is one decoded manifest document.
type doc struct {
	file  string // base name, "api.yaml"
	index int    // 1-based position of the document in its file
	kind  string // "Deployment"
	obj   runtime.Object
}

// decodeDocs splits data into YAML documents and decodes each strictly.
// Empty documents (only comments) are skipped. Every error names the file
// and the document.
func decodeDocs(file string, data []byte) ([]doc, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []doc
	var errs []error
	for i := 1; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if isEmptyYAML(raw) {
			continue
		}
		obj, gvk, err := strictDecoder.Decode(raw, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %w", file, i, err))
			continue
		}
		docs = append(docs, doc{file: file, index: i, kind: gvk.Kind, obj: obj})
	}
	return docs, errors.Join(errs...)
}

// isEmptyYAML reports whether a document holds only comments and blanks.
func isEmptyYAML(raw []byte) bool {
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// kustomization is the part of kustomization.yaml this package uses,
// decoded strictly: a misspelt key fails.
type kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Namespace  string   `yaml:"namespace"`
	Resources  []string `yaml:"resources"`
	Images     []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
}

func readKustomization(dir string) (kustomization, error) {
	var k kustomization
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return k, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&k); err != nil {
		return k, fmt.Errorf("kustomization.yaml: %w", err)
	}
	return k, nil
}

// decodeDir decodes every resource of dir's kustomization.
func decodeDir(dir string) ([]doc, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	var all []doc
	var errs []error
	for _, name := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs, err := decodeDocs(name, data)
		errs = append(errs, err)
		all = append(all, docs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no manifest documents", dir)
	}
	return all, nil
}

// loadManifests decodes and indexes the manifests of dir.
func loadManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	docs, err := decodeDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return index(docs)
}

// TestKustomizationListsEveryManifest: a manifest left out of
// kustomization.yaml would never be applied, and a listed file that does
// not exist breaks kubectl apply -k.
func TestKustomizationListsEveryManifest(t *testing.T) {
	k, err := readKustomization(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s; want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization.yaml namespace = %q; want %q", k.Namespace, namespace)
	}
	files, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			want = append(want, base)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources = %v; want every manifest file %v", got, want)
	}
}

// TestStrictDecoding proves the decoder the other tests rely on refuses
// what the API server would silently drop or reject.
func TestStrictDecoding(t *testing.T) {
	const good = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: refapp}
spec:
  replicas: 3
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i}]
`
	tests := []struct {
		name string
		yaml string
		want string // in the error; "" for none
	}{
		{"valid", good, ""},
		// A typo in a field name.
		{"unknown field", strings.Replace(good, "replicas: 3", "replicass: 3", 1), `unknown field "spec.replicass"`},
		// A typo deep inside the pod template.
		{"unknown nested field", strings.Replace(good, "image: i", "imag: i", 1), `unknown field "spec.template.spec.containers[0].imag"`},
		// The same key twice: YAML keeps the last one silently.
		{"duplicate field", strings.Replace(good, "replicas: 3", "replicas: 3\n  replicas: 2", 1), `key "replicas" already set`},
		// A value of the wrong type.
		{"wrong type", strings.Replace(good, "replicas: 3", "replicas: three", 1), `cannot unmarshal`},
		// A kind the scheme does not know.
		{"unknown kind", strings.Replace(good, "kind: Deployment", "kind: Deploymnet", 1), `no kind "Deploymnet"`},
		// A second document is decoded too, not ignored.
		{"bad second document", good + "---\n" + strings.Replace(good, "replicas: 3", "replicass: 3", 1), "document 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := decodeDocs("inline.yaml", []byte(tt.yaml))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("decodeDocs = %v; want no error", err)
			case tt.want == "" && len(docs) == 0:
				t.Fatal("decodeDocs decoded nothing")
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("decodeDocs error = %v; want one containing %q", err, tt.want)
			}
		})
	}
}

// TestEveryManifestDecodesStrictly decodes each manifest file on its own,
// so that one broken file is reported with all its errors.
func TestEveryManifestDecodesStrictly(t *testing.T) {
	k, err := readKustomization(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range k.Resources {
		data, err := os.ReadFile(filepath.Join(manifestDir, name))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := decodeDocs(name, data)
		if err != nil {
			t.Error(err)
		} else if len(docs) == 0 {
			t.Errorf("%s: no documents", name)
		}
	}
}
