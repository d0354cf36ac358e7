vcl 4.1;
// Votes go to ingest, everything else to web; only GET/HEAD of fan paths are cached.
// This is the last vcl_recv: it always returns.

sub vcl_recv {
    // A receipt in another language (/ko/votes/<receipt>) goes to ingest too; ingest knows the
    // languages and answers an unknown prefix 404.
    if (req.url ~ "^(/[a-z]{2}(-[a-z]{2})?)?/votes(/|\?|$)") {
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

sub vcl_backend_error {
    if (bereq.url ~ "^(/[a-z]{2}(-[a-z]{2})?)?/votes(/|\?|$)") {
        // Ingest could not be reached: the fan's form shows a friendly refusal with a retry hint,
        // never Varnish's own error page. Nothing was queued, so nothing was accepted.
        set beresp.http.Content-Type = "text/html; charset=utf-8";
        set beresp.http.Cache-Control = "private, no-store";
        set beresp.http.Retry-After = "5";
        set beresp.body = {"<p class="vote-problem" role="alert">We're very busy right now and your vote was not sent. Please try again in a few seconds.</p>
"};
        return (deliver);
    }
}
