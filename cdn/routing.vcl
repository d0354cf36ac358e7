vcl 4.1;
// Votes go to ingest, everything else to web; only GET/HEAD of fan paths are cached.
// This is the last vcl_recv: it always returns.

sub vcl_recv {
    if (req.url ~ "^/votes(/|\?|$)") {
        set req.backend_hint = ingest;
        return (pass);
    }
    set req.backend_hint = web;
    if (req.url ~ "^/metrics(\?|$)" && client.ip !~ purgers) {
        // Operational gauges are for the operators' network (the purgers ACL), not the public.
        return (synth(404, "Not Found"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/(admin|healthz|metrics)(/|\?|$)") {
        return (pass);
    }
    return (hash);
}

sub vcl_backend_response {
    if (bereq.url ~ "^/(media|static)/" && beresp.status == 200
        && beresp.http.Cache-Control ~ "immutable") {
        // Fingerprinted files never change under their URL: keep serving them through outages.
        set beresp.grace = 7d;
    }
}
