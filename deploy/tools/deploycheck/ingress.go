package main

import (
	"net/url"
	"sort"
	"strings"
)

// publicRoutes are the system's five routes: each must be a Prefix path
// to the serve pods.
var publicRoutes = []string{"/", "/api", "/docs", "/team-manager", "/it-manager"}

// internalPaths share serve's port (or would, for pprof) but must never be
// forwarded from outside.
var internalPaths = []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/profile"}

// servedPaths are requests the ingress must forward to serve: the console's
// deep links, assets and config, the API and the docs.
var servedPaths = []string{"/", "/teams/0190c1a2/files", "/auth/callback", "/signed-out", "/assets/index-B3x_9aZq.js",
	"/console/config.json", "/team-manager/members", "/it-manager/teams", "/api/v1/me", "/docs/", "/docs"}

type ingressPath struct {
	path, pathType, service string
}

// winner is the path an Ingress routes a request path to, by the Ingress
// rules: an Exact match first, else the longest Prefix match by path
// segments.
func winner(paths []ingressPath, p string) (ingressPath, bool) {
	var best ingressPath
	found := false
	for _, ip := range paths {
		if ip.pathType == "Exact" && ip.path == p {
			return ip, true
		}
	}
	for _, ip := range paths {
		if ip.pathType != "Prefix" && ip.pathType != "ImplementationSpecific" {
			continue
		}
		prefix := strings.TrimSuffix(ip.path, "/")
		if prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/") {
			if !found || len(prefix) > len(strings.TrimSuffix(best.path, "/")) {
				best, found = ip, true
			}
		}
	}
	return best, found
}

// checkIngress checks the Ingress objects: TLS for every host, the host is
// CONVEYOR_PUBLIC_URL's, every backend is a rendered Service and port, the
// five routes reach the serve pods, and the internal endpoints do not.
// services are the rendered Services by name; sinks those with no selector
// (no endpoints: the controller answers itself).
func checkIngress(p *problems, ingresses []map[string]any, services map[string]map[string]any, sinks, toServe map[string]bool, publicURL string) {
	if len(ingresses) == 0 {
		p.addf("no Ingress: the console, the API and the docs need one (the chart's templates/ingress.yaml)")
		return
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		p.addf("CONVEYOR_PUBLIC_URL %q: want https://<the ingress host>", publicURL)
	}
	for _, ing := range ingresses {
		what := "Ingress/" + str(at(ing, "metadata", "name"))
		tlsHosts := map[string]bool{}
		for _, t := range list(at(ing, "spec", "tls")) {
			if str(at(t, "secretName")) == "" {
				p.addf("%s: a tls entry without secretName", what)
				continue
			}
			for _, h := range list(at(t, "hosts")) {
				tlsHosts[str(h)] = true
			}
		}
		if at(ing, "spec", "defaultBackend") != nil {
			p.addf("%s: a defaultBackend would forward every unmatched path; route paths explicitly", what)
		}
		for _, rule := range list(at(ing, "spec", "rules")) {
			host := str(at(rule, "host"))
			if host == "" || !tlsHosts[host] {
				p.addf("%s: host %q is not covered by a tls entry (TLS for every host)", what, host)
			}
			if u != nil && host != u.Host {
				p.addf("%s: host %q is not CONVEYOR_PUBLIC_URL's host %q (the console's sign-in redirect URIs are registered there)", what, host, u.Host)
			}
			var paths []ingressPath
			for _, hp := range list(at(rule, "http", "paths")) {
				ip := ingressPath{path: str(at(hp, "path")), pathType: str(at(hp, "pathType")), service: str(at(hp, "backend", "service", "name"))}
				paths = append(paths, ip)
				svc, ok := services[ip.service]
				if !ok {
					p.addf("%s: path %s goes to Service %q, which is not rendered", what, ip.path, ip.service)
					continue
				}
				portName := str(at(hp, "backend", "service", "port", "name"))
				portNum, hasNum := num(at(hp, "backend", "service", "port", "number"))
				hit := false
				for _, sp := range list(at(svc, "spec", "ports")) {
					n, _ := num(at(sp, "port"))
					hit = hit || (portName != "" && str(at(sp, "name")) == portName) || (hasNum && n == portNum)
				}
				if !hit {
					p.addf("%s: path %s goes to a port Service/%s does not have", what, ip.path, ip.service)
				}
			}
			for _, r := range publicRoutes {
				ok := false
				for _, ip := range paths {
					ok = ok || (ip.path == r && ip.pathType == "Prefix" && toServe[ip.service])
				}
				if !ok {
					p.addf("%s: host %s has no Prefix path %s to the serve pods", what, host, r)
				}
			}
			for _, ip := range internalPaths {
				if w, ok := winner(paths, ip); ok && !sinks[w.service] {
					p.addf("%s: GET %s would reach Service/%s (path %s %s); route it to a Service with no endpoints", what, ip, w.service, w.pathType, w.path)
				}
			}
			for _, sp := range servedPaths {
				if w, ok := winner(paths, sp); !ok || !toServe[w.service] {
					p.addf("%s: GET %s would not reach the serve pods", what, sp)
				}
			}
		}
	}
	// A sink must stay one: nothing may give it endpoints.
	var names []string
	for n := range sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(list(at(services[n], "spec", "ports"))) == 0 {
			p.addf("Service/%s: no ports", n)
		}
	}
}
