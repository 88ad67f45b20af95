// Command chart-render renders a Helm chart the way `helm template --include-crds` does, for the
// features sippbx's charts use: Go text/template + sprig (Debian's golang-github-masterminds-sprig-dev)
// + Helm's include/required/toYaml/fromYaml/toJson/fromJson/fail, .Release/.Chart/.Values/.Files/
// .Capabilities, values files and --set overrides. `tpl`, `lookup` and subcharts are refused.
//
// No helm binary exists on the CI machines; this is what CI and test/chart render with. It is built
// offline in GOPATH mode against /usr/share/gocode (scripts/render-chart.sh).
//
// Usage: chart-render CHART_DIR [--values FILE]... [--set k=v]... [--namespace NS] [--release NAME]
//
//	[--api-versions a,b]... [--kube-version v1.32.0] [--skip-crds]
package main

import (
	"fmt"
	"os"
	"strings"
)

type options struct {
	chartDir    string
	valueFiles  []string
	sets        []string
	namespace   string
	release     string
	apiVersions []string
	kubeVersion string
	skipCRDs    bool
	showNotes   bool
}

const usage = `usage: chart-render CHART_DIR [--values|-f FILE]... [--set k=v]... [--namespace|-n NS]
       [--release NAME] [--api-versions|-a a,b]... [--kube-version v1.32.0] [--skip-crds] [--notes]`

func parseArgs(args []string) (options, error) {
	o := options{namespace: "default", release: "release-name", kubeVersion: "v1.32.0"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(arg, "=")
		if !strings.HasPrefix(arg, "-") {
			if o.chartDir != "" {
				return o, fmt.Errorf("unexpected argument %q (one chart directory only)", arg)
			}
			o.chartDir = arg
			continue
		}
		switch name {
		case "--skip-crds":
			o.skipCRDs = true
			continue
		case "--notes":
			o.showNotes = true
			continue
		case "-h", "--help":
			return o, fmt.Errorf("%s", usage)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return o, fmt.Errorf("flag %s needs a value", name)
			}
			i++
			value = args[i]
		}
		switch name {
		case "--values", "-f":
			o.valueFiles = append(o.valueFiles, value)
		case "--set":
			o.sets = append(o.sets, value)
		case "--namespace", "-n":
			o.namespace = value
		case "--release":
			o.release = value
		case "--api-versions", "-a":
			for _, v := range strings.Split(value, ",") {
				if v = strings.TrimSpace(v); v != "" {
					o.apiVersions = append(o.apiVersions, v)
				}
			}
		case "--kube-version":
			o.kubeVersion = value
		default:
			return o, fmt.Errorf("unknown flag %s\n%s", name, usage)
		}
	}
	if o.chartDir == "" {
		return o, fmt.Errorf("missing CHART_DIR\n%s", usage)
	}
	return o, nil
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart-render:", err)
		os.Exit(2)
	}
	out, err := render(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart-render: Error:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.WriteString(out); err != nil {
		os.Exit(1)
	}
}
