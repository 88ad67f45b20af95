package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver"
	"gopkg.in/yaml.v2"
)

// installOrder is helm's releaseutil.InstallOrder: the order `helm template` prints kinds in.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
	"RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
}

// docSeparator is helm's releaseutil.SplitManifests separator.
var docSeparator = regexp.MustCompile("(?:^|\\s*\n)---\\s*")

type manifest struct {
	source  string
	content string
	kind    string
}

type head struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
}

// splitDocs splits a rendered file into documents, dropping those that are empty or only comments.
func splitDocs(source, content string) ([]manifest, error) {
	var out []manifest
	for _, d := range docSeparator.Split(strings.TrimSpace(content), -1) {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		var raw interface{}
		if err := yaml.Unmarshal([]byte(d), &raw); err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %w", source, err)
		}
		if raw == nil {
			continue
		}
		var h head
		if err := yaml.Unmarshal([]byte(d), &h); err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %w", source, err)
		}
		if h.Kind == "" || h.APIVersion == "" {
			return nil, fmt.Errorf("%s: a document has no apiVersion or kind:\n%s", source, d)
		}
		if _, hook := h.Metadata.Annotations["helm.sh/hook"]; hook {
			return nil, fmt.Errorf("%s: helm hooks are not supported by this renderer", source)
		}
		out = append(out, manifest{source: source, content: d, kind: h.Kind})
	}
	return out, nil
}

// sortByKind is helm's sortManifestsByKind: stable, known kinds in install order, unknown kinds
// after them alphabetically; within a kind the order of files (sorted by path) and documents stays.
func sortByKind(ms []manifest) {
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(ms, func(i, j int) bool {
		ri, iok := rank[ms[i].kind]
		rj, jok := rank[ms[j].kind]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		default:
			return ms[i].kind < ms[j].kind
		}
	})
}

func render(o options) (string, error) {
	c, err := loadChart(o.chartDir)
	if err != nil {
		return "", err
	}
	user := Values{}
	for _, f := range o.valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return "", err
		}
		user = mergeMaps(user, v)
	}
	for _, s := range o.sets {
		if err := applySet(user, s); err != nil {
			return "", err
		}
	}
	kv := strings.TrimPrefix(o.kubeVersion, "v")
	major, minor, _ := strings.Cut(kv, ".")
	minor, _, _ = strings.Cut(minor, ".")
	if c.meta.KubeVersion != "" {
		if err := checkKubeVersion(c.meta.KubeVersion, kv); err != nil {
			return "", err
		}
	}
	top := map[string]interface{}{
		"Values":  coalesce(c.defaults, user),
		"Chart":   c.meta,
		"Files":   c.files,
		"Release": Release{Name: o.release, Namespace: o.namespace, Service: "Helm", Revision: 1, IsInstall: true},
		"Capabilities": Capabilities{
			KubeVersion: KubeVersion{Version: "v" + kv, Major: major, Minor: minor},
			APIVersions: append(append(VersionSet{}, defaultAPIVersions...), o.apiVersions...),
		},
	}
	rendered, err := renderTemplates(c, top)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if !o.skipCRDs {
		for _, name := range sortedByteKeys(c.crds) {
			docs, err := splitDocs(name, string(c.crds[name]))
			if err != nil {
				return "", err
			}
			writeDocs(&b, docs)
		}
	}
	var all []manifest
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		docs, err := splitDocs(name, rendered[name])
		if err != nil {
			return "", err
		}
		all = append(all, docs...)
	}
	sortByKind(all)
	writeDocs(&b, all)
	if o.showNotes {
		for _, name := range names {
			if strings.HasSuffix(name, "/templates/NOTES.txt") {
				b.WriteString("\nNOTES:\n" + rendered[name])
			}
		}
	}
	return b.String(), nil
}

// checkKubeVersion refuses a cluster version outside Chart.yaml's kubeVersion, as helm does.
func checkKubeVersion(constraint, version string) error {
	cons, err := semver.NewConstraint(constraint)
	if err != nil {
		return fmt.Errorf("Chart.yaml: kubeVersion %q: %w", constraint, err)
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return fmt.Errorf("--kube-version %q: %w", version, err)
	}
	if !cons.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s", constraint, version)
	}
	return nil
}

func writeDocs(b *strings.Builder, ms []manifest) {
	for _, m := range ms {
		fmt.Fprintf(b, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
}

func sortedByteKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
