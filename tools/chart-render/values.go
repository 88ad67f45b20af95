package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v2"
)

// Values are a chart's values, typed as Helm types them: YAML goes through JSON (sigs.k8s.io/yaml),
// so every number from a file is a float64 and every map is map[string]interface{}.
type Values = map[string]interface{}

// parseYAMLDoc decodes one YAML document the way sigs.k8s.io/yaml.Unmarshal does into an interface{}.
func parseYAMLDoc(data []byte) (interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	return toJSONTypes(raw)
}

// toJSONTypes converts yaml.v2's types to what a YAML -> JSON -> Go round trip gives.
func toJSONTypes(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, val := range t {
			key, err := jsonKey(k)
			if err != nil {
				return nil, err
			}
			conv, err := toJSONTypes(val)
			if err != nil {
				return nil, err
			}
			out[key] = conv
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			conv, err := toJSONTypes(val)
			if err != nil {
				return nil, err
			}
			out[i] = conv
		}
		return out, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case float64, string, bool, nil:
		return t, nil
	default:
		return fmt.Sprint(t), nil
	}
}

func jsonKey(k interface{}) (string, error) {
	switch t := k.(type) {
	case string:
		return t, nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case uint64:
		return strconv.FormatUint(t, 10), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(t), nil
	case nil:
		return "null", nil
	default:
		return "", fmt.Errorf("unsupported map key %v (%T)", k, k)
	}
}

// readValuesFile reads a values file; an empty file is an empty map (chartutil.ReadValues).
func readValuesFile(path string) (Values, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := parseYAMLDoc(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc == nil {
		return Values{}, nil
	}
	m, ok := doc.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: values must be a YAML mapping", path)
	}
	return m, nil
}

// mergeMaps merges b into a copy of a, recursively for maps (helm's cli/values mergeMaps).
func mergeMaps(a, b Values) Values {
	out := make(Values, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(bv, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce lays user values over the chart's defaults (chartutil.CoalesceValues): maps merge
// recursively, anything else is replaced, and a user null deletes the default.
func coalesce(defaults, user Values) Values {
	out := make(Values, len(defaults)+len(user))
	for k, v := range defaults {
		out[k] = v
	}
	for k, uv := range user {
		if uv == nil {
			delete(out, k)
			continue
		}
		um, uok := uv.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if uok && dok {
			out[k] = coalesce(dm, um)
			continue
		}
		out[k] = uv
	}
	return out
}

// applySet applies one --set argument (helm strvals subset: a.b=c, comma-separated pairs,
// {x,y} lists, name[0] indexes, \, and \. escapes; values typed as strvals types them).
func applySet(vals Values, arg string) error {
	for _, pair := range splitUnescaped(arg, ',', true) {
		if pair == "" {
			continue
		}
		key, raw, ok := cutUnescaped(pair, '=')
		if !ok {
			return fmt.Errorf("--set %q: key %q has no value", arg, pair)
		}
		var value interface{}
		if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			for _, item := range splitUnescaped(raw[1:len(raw)-1], ',', false) {
				if item != "" {
					list = append(list, typedVal(unescape(item)))
				}
			}
			value = list
		} else {
			value = typedVal(unescape(raw))
		}
		if err := setPath(vals, splitUnescaped(key, '.', false), value); err != nil {
			return fmt.Errorf("--set %q: %w", arg, err)
		}
	}
	return nil
}

// typedVal types a --set value like helm's strvals.typedVal.
func typedVal(s string) interface{} {
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case s == "0":
		return int64(0)
	}
	if len(s) != 0 && s[0] != '0' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

func setPath(vals Values, path []string, value interface{}) error {
	cur := vals
	for i, seg := range path {
		name, index, err := splitIndex(unescape(seg))
		if err != nil {
			return err
		}
		last := i == len(path)-1
		if index < 0 {
			if last {
				cur[name] = value
				return nil
			}
			next, ok := cur[name].(map[string]interface{})
			if !ok {
				next = Values{}
				cur[name] = next
			}
			cur = next
			continue
		}
		list, _ := cur[name].([]interface{})
		for len(list) <= index {
			list = append(list, nil)
		}
		cur[name] = list
		if last {
			list[index] = value
			return nil
		}
		next, ok := list[index].(map[string]interface{})
		if !ok {
			next = Values{}
			list[index] = next
		}
		cur = next
	}
	return nil
}

func splitIndex(seg string) (string, int, error) {
	open := strings.IndexByte(seg, '[')
	if open < 0 || !strings.HasSuffix(seg, "]") {
		return seg, -1, nil
	}
	n, err := strconv.Atoi(seg[open+1 : len(seg)-1])
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("bad list index in %q", seg)
	}
	return seg[:open], n, nil
}

// splitUnescaped splits on sep outside backslash escapes (and outside {...} when braces is set);
// escapes are kept for the caller to remove.
func splitUnescaped(s string, sep byte, braces bool) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case braces && c == '{':
			depth++
		case braces && c == '}':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func cutUnescaped(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
