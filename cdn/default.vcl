vcl 4.1;
// The edge in front of fanfare. The app decides what is cacheable (Cache-Control, xkey);
// this file only routes, protects the cache, and reports what it did.

import std;
import xkey;

// backends.vcl is generated per run (make run, test fixtures) with that run's ports and
// found through vcl_path, because VCL cannot read the environment.
include "backends.vcl";

sub vcl_recv {
    // Nothing a client sends may change what gets cached for everybody.
    unset req.http.X-Forwarded-Host;
    unset req.http.X-Forwarded-Proto;
    unset req.http.X-Original-URL;
    unset req.http.X-Rewrite-URL;

    if (req.url ~ "^/votes(/|\?|$)") {
        set req.backend_hint = ingest;
        return (pass);
    }
    set req.backend_hint = web;
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/admin(/|\?|$)") {
        return (pass);
    }
    // Fan pages are identical for everyone: a cookie must not split or bypass the cache.
    unset req.http.Cookie;
    return (hash);
}

sub vcl_backend_response {
    if (bereq.url !~ "^/(admin|votes)(/|\?|$)" && beresp.http.Set-Cookie) {
        // A cacheable path must never hand one visitor's cookie to the next.
        unset beresp.http.Set-Cookie;
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        return (deliver);
    }
    if (beresp.http.Content-Type ~ "^(text/|application/(json|javascript))|image/svg") {
        set beresp.do_gzip = true;
    }
    return (deliver);
}

sub vcl_deliver {
    if (obj.uncacheable) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0 && obj.ttl <= 0s) {
        set resp.http.X-Cache = "HIT-STALE";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    unset resp.http.xkey;
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}
