// Renders Go text/template cases the way Prometheus sets up alert templates
// (missingkey=zero, the $labels/$externalLabels/$externalURL/$value definitions
// in front), for tests/rules.rs. Only Go's standard library is used: the
// functions below are the stdlib calls Prometheus's template functions of the
// same names make. Reads JSON cases from stdin, writes one JSON result per line.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/template"
)

type tcase struct {
	Name   string            `json:"name"`
	Text   string            `json:"text"`
	Labels map[string]string `json:"labels"`
	Ext    map[string]string `json:"ext"`
	Value  float64           `json:"value"`
}

const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

func main() {
	funcs := template.FuncMap{
		"toUpper": strings.ToUpper,
		"toLower": strings.ToLower,
		"title":   strings.Title,
		"match":   regexp.MatchString,
		"reReplaceAll": func(pattern, repl, text string) string {
			return regexp.MustCompile(pattern).ReplaceAllString(text, repl)
		},
		"args": func(args ...interface{}) map[string]interface{} {
			m := map[string]interface{}{}
			for i, a := range args {
				m[fmt.Sprintf("arg%d", i)] = a
			}
			return m
		},
		"safeHtml": func(s string) string { return s },
	}
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	enc := json.NewEncoder(os.Stdout)
	for {
		var c tcase
		if err := dec.Decode(&c); err == io.EOF {
			break
		} else if err != nil {
			panic(err)
		}
		data := struct {
			Labels         map[string]string
			ExternalLabels map[string]string
			ExternalURL    string
			Value          interface{}
		}{c.Labels, c.Ext, "", c.Value}
		res := map[string]string{"out": "", "err": ""}
		t, err := template.New(c.Name).Funcs(funcs).Option("missingkey=zero").Parse(defs + c.Text)
		if err != nil {
			res["err"] = err.Error()
		} else {
			var b bytes.Buffer
			if err := t.Execute(&b, data); err != nil {
				res["err"] = err.Error()
			} else {
				res["out"] = b.String()
			}
		}
		if err := enc.Encode(res); err != nil {
			panic(err)
		}
	}
}
